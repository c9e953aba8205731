-- title: Audit logging stopped, started or changed (seed 000 query 6 corrected: OR in parentheses; 002 guideline 4)
-- pci: 10.2.1.6 (v3.2.1 10.2.6)
SELECT eventtime, account, awsregion, useridentity.arn AS principal, eventname,
       json_extract_scalar(requestparameters, '$.name') AS trail, errorcode
FROM cloudtrail_logs
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND (eventname = 'StopLogging' OR eventname = 'StartLogging' OR eventname = 'DeleteTrail'
       OR eventname = 'UpdateTrail' OR eventname = 'PutEventSelectors')
ORDER BY eventtime
