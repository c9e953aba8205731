-- title: Root user activity (seed 000 query 3 corrected: root is userIdentity.type = 'Root'; 003; 004)
-- pci: 10.2.1.2 (v3.2.1 10.2.2)
SELECT eventtime, account, eventsource, eventname, sourceipaddress, useridentity.invokedby AS invoked_by, errorcode
FROM cloudtrail_logs
WHERE useridentity.type = 'Root'
ORDER BY eventtime
