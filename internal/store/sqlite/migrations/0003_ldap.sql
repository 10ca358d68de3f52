-- Reserved for LDAP providers and outposts (issue 5); filled by that work.
SELECT 1;
