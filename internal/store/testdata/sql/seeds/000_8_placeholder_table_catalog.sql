SELECT * FROM AwsDataCatalog."MyDB"."CloudTrail_Logs" WHERE eventname = 'ConsoleLogin' AND responseelements LIKE '%Failure%'
