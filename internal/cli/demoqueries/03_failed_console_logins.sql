-- title: Failed console sign-ins (seed 000 query 4, 002 guideline 2)
-- pci: 10.2.1.4 (v3.2.1 10.2.4)
SELECT eventtime, account, useridentity.username AS user_name, useridentity.arn AS principal, sourceipaddress,
       errormessage, json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa_used
FROM cloudtrail_logs
WHERE eventname = 'ConsoleLogin'
  AND (json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure' OR errormessage IS NOT NULL)
ORDER BY eventtime
