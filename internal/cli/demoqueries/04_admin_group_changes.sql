-- title: Users added to administrator groups (seed 000 query 5)
-- pci: 10.2.1.5 (v3.2.1 10.2.5)
SELECT eventtime, account, useridentity.arn AS principal, eventname,
       json_extract_scalar(requestparameters, '$.groupName') AS group_name,
       json_extract_scalar(requestparameters, '$.userName') AS user_added
FROM cloudtrail_logs
WHERE eventsource = 'iam.amazonaws.com' AND eventname = 'AddUserToGroup'
  AND lower(json_extract_scalar(requestparameters, '$.groupName')) LIKE '%admin%'
ORDER BY eventtime
