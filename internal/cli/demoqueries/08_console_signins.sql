-- title: Console sign-ins from mobile or without MFA (seed 003)
-- pci: 10.2.1.5 (v3.2.1 10.2.5)
SELECT eventtime, account, useridentity.type AS identity_type, useridentity.arn AS principal, sourceipaddress,
       json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa_used,
       json_extract_scalar(additionaleventdata, '$.MobileVersion') AS mobile
FROM cloudtrail_logs
WHERE eventname = 'ConsoleLogin'
  AND (json_extract_scalar(additionaleventdata, '$.MobileVersion') = 'Yes'
       OR json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No')
ORDER BY eventtime
