"""The DynamoDB table layout the AWS stack creates and the DynamoDB store relies on.

Kept free of SDK imports, so the CDK synth can read it without loading boto3.
"""

# A string partition key (the item id) and a numeric TTL attribute (epoch seconds).
PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
DATA_ATTRIBUTE = "data"
# Every DynamoDB operation the store calls (tests read the calls from stores/dynamodb.py and compare). The
# stack grants exactly these actions and watches exactly these operations' throttles.
OPERATIONS = ("GetItem", "PutItem")
