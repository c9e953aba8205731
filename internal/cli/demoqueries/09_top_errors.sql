-- title: Top error codes (seed 003)
-- pci: 10.2.1.4 (v3.2.1 10.2.4)
SELECT count(*) AS total_events, eventname, errorcode, errormessage
FROM cloudtrail_logs
WHERE errorcode IS NOT NULL
GROUP BY eventname, errorcode, errormessage
ORDER BY total_events DESC
LIMIT 10
