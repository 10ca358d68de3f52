-- Reserved for web sessions and TOTP (issue 6); filled by that work.
SELECT 1;
