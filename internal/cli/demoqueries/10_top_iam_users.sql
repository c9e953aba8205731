-- title: Top IAM users and their actions (seed 003)
-- pci: 10.2.1 (v3.2.1 10.2)
SELECT count(*) AS total_events, useridentity.username AS user_name, eventname
FROM cloudtrail_logs
WHERE useridentity.type = 'IAMUser'
GROUP BY useridentity.username, eventname
ORDER BY total_events DESC
LIMIT 10
