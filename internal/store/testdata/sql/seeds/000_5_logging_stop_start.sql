SELECT * FROM mydb.cloudtrail_logs WHERE eventname = 'StopLogging' OR eventname = 'StartLogging' AND year='2020' AND month='02' AND day='28';
