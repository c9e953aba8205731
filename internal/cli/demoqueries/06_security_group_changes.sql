-- title: Security group and network ACL changes (seed 000 query 7 corrected, 002 guideline 7, 003)
-- pci: 10.2.1.7 (v3.2.1 10.2.7), 1.2.7
SELECT eventtime, account, awsregion, useridentity.arn AS principal, eventname,
       json_extract_scalar(requestparameters, '$.groupId') AS group_id, errorcode
FROM cloudtrail_logs
WHERE eventsource = 'ec2.amazonaws.com'
  AND (eventname LIKE '%SecurityGroup%' OR eventname LIKE '%NetworkAcl%')
  AND eventname NOT LIKE 'Describe%'
ORDER BY eventtime
