-- title: Subnet, route table and VPC changes (seed 000 query 8, 002 guidelines 6, 9, 10)
-- pci: 10.2.1.7 (v3.2.1 10.2.7)
SELECT eventtime, account, awsregion, useridentity.arn AS principal, eventname, errorcode
FROM cloudtrail_logs
WHERE eventsource = 'ec2.amazonaws.com'
  AND (eventname LIKE '%Subnet%' OR eventname LIKE '%Route%' OR eventname LIKE '%Vpc%')
  AND eventname NOT LIKE 'Describe%'
ORDER BY eventtime
