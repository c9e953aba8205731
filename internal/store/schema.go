package store

// SchemaVersion is stored in the database; a store written by another version is refused with a clear error.
const SchemaVersion = 1

// schemaDDL creates the store. ct_events holds the events with the columns and nested types of the Athena
// CloudTrail table (the JSON documents requestParameters, responseElements, additionalEventData and
// serviceEventDetails as JSON text), the partition columns of the S3 layout, the parsed event time, the
// object the event came from, and every field outside the Athena columns in a small JSON column, extra.
// cloudtrail_logs is the view users query: the Athena table, with the partition names used by the
// various published table definitions as aliases.
var schemaDDL = []string{
	`CREATE TABLE IF NOT EXISTS tw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS ct_events (
		eventversion VARCHAR,
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
		eventtime VARCHAR,
		eventsource VARCHAR,
		eventname VARCHAR,
		awsregion VARCHAR,
		sourceipaddress VARCHAR,
		useragent VARCHAR,
		errorcode VARCHAR,
		errormessage VARCHAR,
		requestparameters VARCHAR,
		responseelements VARCHAR,
		additionaleventdata VARCHAR,
		requestid VARCHAR,
		eventid VARCHAR,
		readonly VARCHAR,
		resources STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[],
		eventtype VARCHAR,
		apiversion VARCHAR,
		recipientaccountid VARCHAR,
		serviceeventdetails VARCHAR,
		sharedeventid VARCHAR,
		vpcendpointid VARCHAR,
		tlsdetails STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR),
		eventcategory VARCHAR,
		managementevent VARCHAR,
		extra VARCHAR,
		account VARCHAR,
		region VARCHAR,
		"timestamp" VARCHAR,
		event_time TIMESTAMPTZ,
		source_object VARCHAR
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
