-- Reserved for applications, bindings (issue 7); filled by that work.
SELECT 1;
