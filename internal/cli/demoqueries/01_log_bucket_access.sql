-- title: Reads of the CloudTrail log bucket by people (seed 000 query 2, 002 guideline 5)
-- pci: 10.2.1.3 (v3.2.1 10.2.3)
SELECT eventtime, account, useridentity.arn AS principal, sourceipaddress,
       json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
       json_extract_scalar(requestparameters, '$.key') AS object_key
FROM cloudtrail_logs
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('GetObject', 'ListObjects', 'ListObjectsV2', 'DeleteObject', 'PutBucketPolicy', 'PutBucketLifecycle', 'DeleteBucket')
  AND json_extract_scalar(requestparameters, '$.bucketName') LIKE '%cloudtrail%'
  AND sourceipaddress NOT IN ('cloudtrail.amazonaws.com', 'athena.amazonaws.com')
  AND useridentity.type <> 'AWSService'
ORDER BY eventtime
