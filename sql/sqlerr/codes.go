package sqlerr

// MySQL error codes the SQL layer raises. The numbers are MySQL's, so that
// clients and tools recognise them.
const (
	CodeDBCreateExists        uint16 = 1007
	CodeDBDropExists          uint16 = 1008
	CodeTooBigFieldLength     uint16 = 1074
	CodeBadNull               uint16 = 1048
	CodeBadDB                 uint16 = 1049
	CodeTableExists           uint16 = 1050
	CodeBadTable              uint16 = 1051
	CodeBadField              uint16 = 1054
	CodeDupFieldName          uint16 = 1060
	CodeDupKeyName            uint16 = 1061
	CodeDupEntry              uint16 = 1062
	CodeParse                 uint16 = 1064
	CodeCantDropFieldOrKey    uint16 = 1091
	CodeUnknown               uint16 = 1105
	CodeNoSuchTable           uint16 = 1146
	CodeLockWaitTimeout       uint16 = 1205
	CodeWrongArguments        uint16 = 1210
	CodeRetryable             uint16 = 1213
	CodeNotSupportedYet       uint16 = 1235
	CodeWrongValueCountOnRow  uint16 = 1136
	CodeWarnDataOutOfRange    uint16 = 1264
	CodeWarnDataTruncated     uint16 = 1265
	CodeTruncatedWrongValue   uint16 = 1292
	CodeSPDoesNotExist        uint16 = 1305
	CodeQueryInterrupted      uint16 = 1317
	CodeDivisionByZero        uint16 = 1365
	CodeTruncatedWrongValueFF uint16 = 1366
	CodeTooBigScale           uint16 = 1425
	CodeTooBigPrecision       uint16 = 1426
	CodeMBiggerThanD          uint16 = 1427
	CodeDataTooLong           uint16 = 1406
	CodeWrongParamcountToFunc uint16 = 1582
	CodeDataOutOfRange        uint16 = 1690
)

// states maps each code to its SQLSTATE, as MySQL assigns them. Codes not
// listed get HY000, MySQL's "general error" class.
var states = map[uint16]string{
	CodeDBCreateExists:        "HY000",
	CodeDBDropExists:          "HY000",
	CodeTooBigFieldLength:     "42000",
	CodeBadNull:               "23000",
	CodeBadDB:                 "42000",
	CodeTableExists:           "42S01",
	CodeBadTable:              "42S02",
	CodeBadField:              "42S22",
	CodeDupFieldName:          "42S21",
	CodeDupKeyName:            "42000",
	CodeDupEntry:              "23000",
	CodeParse:                 "42000",
	CodeCantDropFieldOrKey:    "42000",
	CodeUnknown:               "HY000",
	CodeNoSuchTable:           "42S02",
	CodeLockWaitTimeout:       "HY000",
	CodeWrongArguments:        "HY000",
	CodeRetryable:             "40001",
	CodeNotSupportedYet:       "42000",
	CodeWrongValueCountOnRow:  "21S01",
	CodeWarnDataOutOfRange:    "22003",
	CodeWarnDataTruncated:     "01000",
	CodeTruncatedWrongValue:   "22007",
	CodeSPDoesNotExist:        "42000",
	CodeQueryInterrupted:      "70100",
	CodeDivisionByZero:        "22012",
	CodeTruncatedWrongValueFF: "HY000",
	CodeTooBigScale:           "42000",
	CodeTooBigPrecision:       "42000",
	CodeMBiggerThanD:          "42000",
	CodeDataTooLong:           "22001",
	CodeWrongParamcountToFunc: "42000",
	CodeDataOutOfRange:        "22003",
}

// State returns the SQLSTATE MySQL reports with code.
func State(code uint16) string {
	if s, ok := states[code]; ok {
		return s
	}
	return "HY000"
}
