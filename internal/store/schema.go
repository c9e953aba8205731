package store

// SchemaVersion is stored in the database; a store written by another version is refused with a clear error.
const SchemaVersion = 1

// schemaDDL creates the store. ct_events holds the events with the columns and nested types of the Athena
// CloudTrail table (the JSON documents requestParameters, responseElements, additionalEventData and
// serviceEventDetails as JSON text), the partition columns of the S3 layout, the parsed event time, the
// object the event came from, and every field outside the Athena columns in a small JSON column, extra.
// cloudtrail_logs is the view users query: the Athena table, with the partition names used by the
// various published table definitions as aliases.
//
// Text columns whose nature is known name their compression, so that DuckDB does not try every method on
// every segment it writes (that analysis was ~15% of ingest's CPU): dictionary for the few-valued ones
// (names, regions, accounts, versions, flags, the file an event came from), FSST for the unique or free-text
// ones (IDs, times, messages, response documents). Columns whose variety depends on the account (source IPs,
// user agents, request parameters, extra) keep DuckDB's choice. On 1M events, six alternating runs, the
// fastest three: 13.8-14.4 s -> 13.5-13.6 s (hints on every text column measured the same: median of seven
// 14.05 -> 13.51 s); the store 2-4% smaller, its contents identical. Stores created before keep their tables;
// nothing a query sees changes.
var schemaDDL = []string{
	`CREATE TABLE IF NOT EXISTS tw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS ct_events (
		eventversion VARCHAR USING COMPRESSION dictionary,
		useridentity STRUCT(
			type VARCHAR,
			principalid VARCHAR,
			arn VARCHAR,
			accountid VARCHAR,
			invokedby VARCHAR,
			accesskeyid VARCHAR,
			username VARCHAR,
			sessioncontext STRUCT(
				attributes STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR),
				sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR),
				ec2roledelivery VARCHAR,
				webidfederationdata MAP(VARCHAR, VARCHAR)
			)
		),
		eventtime VARCHAR USING COMPRESSION fsst,
		eventsource VARCHAR USING COMPRESSION dictionary,
		eventname VARCHAR USING COMPRESSION dictionary,
		awsregion VARCHAR USING COMPRESSION dictionary,
		sourceipaddress VARCHAR,
		useragent VARCHAR,
		errorcode VARCHAR,
		errormessage VARCHAR USING COMPRESSION fsst,
		requestparameters VARCHAR,
		responseelements VARCHAR USING COMPRESSION fsst,
		additionaleventdata VARCHAR USING COMPRESSION fsst,
		requestid VARCHAR USING COMPRESSION fsst,
		eventid VARCHAR USING COMPRESSION fsst,
		readonly VARCHAR USING COMPRESSION dictionary,
		resources STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[],
		eventtype VARCHAR USING COMPRESSION dictionary,
		apiversion VARCHAR USING COMPRESSION dictionary,
		recipientaccountid VARCHAR USING COMPRESSION dictionary,
		serviceeventdetails VARCHAR,
		sharedeventid VARCHAR USING COMPRESSION fsst,
		vpcendpointid VARCHAR USING COMPRESSION dictionary,
		tlsdetails STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR),
		eventcategory VARCHAR USING COMPRESSION dictionary,
		managementevent VARCHAR USING COMPRESSION dictionary,
		extra VARCHAR,
		account VARCHAR USING COMPRESSION dictionary,
		region VARCHAR USING COMPRESSION dictionary,
		"timestamp" VARCHAR USING COMPRESSION dictionary,
		event_time TIMESTAMPTZ,
		source_object VARCHAR USING COMPRESSION dictionary
	)`,
	`CREATE TABLE IF NOT EXISTS tw_files (
		uri VARCHAR PRIMARY KEY,
		version VARCHAR,
		size BIGINT,
		account VARCHAR,
		region VARCHAR,
		day DATE,
		status VARCHAR,
		events BIGINT,
		added BIGINT,
		duplicates BIGINT,
		rejected BIGINT,
		error VARCHAR,
		ingested_at TIMESTAMPTZ
	)`,
	`CREATE OR REPLACE VIEW cloudtrail_logs AS SELECT
		eventversion, useridentity, eventtime, eventsource, eventname, awsregion, sourceipaddress, useragent,
		errorcode, errormessage, requestparameters, responseelements, additionaleventdata, requestid, eventid,
		readonly, resources, eventtype, apiversion, recipientaccountid, serviceeventdetails, sharedeventid,
		vpcendpointid, tlsdetails, eventcategory, managementevent, extra,
		account, region, "timestamp",
		substr("timestamp", 1, 4) AS year,
		substr("timestamp", 6, 2) AS month,
		substr("timestamp", 9, 2) AS day,
		account AS account_partition,
		region AS region_partition,
		"timestamp" AS date_partition,
		event_time,
		source_object
	FROM ct_events`,
}
