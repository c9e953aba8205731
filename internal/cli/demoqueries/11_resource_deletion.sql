-- title: Resource deletions (seed 004)
-- pci: 10.2.1.7 (v3.2.1 10.2.7)
SELECT "timestamp" AS day, account, eventsource, eventname, count(*) AS deletions
FROM cloudtrail_logs
WHERE (lower(eventname) LIKE '%delete%' OR lower(eventname) LIKE '%remove%')
  AND errorcode IS NULL
GROUP BY 1, 2, 3, 4
ORDER BY deletions DESC
LIMIT 15
