package mysqlwire

// Constants of the MySQL client/server protocol, named as in the MySQL
// sources (include/mysql_com.h, include/field_types.h) without their prefixes.

// Capability flags exchanged in the handshake. The connection uses the
// intersection of what the server offers and the client asks for.
const (
	ClientLongPassword               uint32 = 1 << 0
	ClientFoundRows                  uint32 = 1 << 1
	ClientLongFlag                   uint32 = 1 << 2
	ClientConnectWithDB              uint32 = 1 << 3
	ClientNoSchema                   uint32 = 1 << 4
	ClientCompress                   uint32 = 1 << 5
	ClientODBC                       uint32 = 1 << 6
	ClientLocalFiles                 uint32 = 1 << 7
	ClientIgnoreSpace                uint32 = 1 << 8
	ClientProtocol41                 uint32 = 1 << 9
	ClientInteractive                uint32 = 1 << 10
	ClientSSL                        uint32 = 1 << 11
	ClientIgnoreSigpipe              uint32 = 1 << 12
	ClientTransactions               uint32 = 1 << 13
	ClientReserved                   uint32 = 1 << 14
	ClientSecureConnection           uint32 = 1 << 15
	ClientMultiStatements            uint32 = 1 << 16
	ClientMultiResults               uint32 = 1 << 17
	ClientPSMultiResults             uint32 = 1 << 18
	ClientPluginAuth                 uint32 = 1 << 19
	ClientConnectAttrs               uint32 = 1 << 20
	ClientPluginAuthLenencClientData uint32 = 1 << 21
	ClientCanHandleExpiredPasswords  uint32 = 1 << 22
	ClientSessionTrack               uint32 = 1 << 23
	ClientDeprecateEOF               uint32 = 1 << 24
)

// serverCapabilities is what this server offers. Not offered: SSL (TLS
// arrives with the security work), COMPRESS, LOCAL_FILES (LOAD DATA LOCAL
// would let a server read client files), SESSION_TRACK, QUERY_ATTRIBUTES.
const serverCapabilities = ClientLongPassword | ClientFoundRows | ClientLongFlag |
	ClientConnectWithDB | ClientProtocol41 | ClientInteractive | ClientIgnoreSigpipe |
	ClientTransactions | ClientSecureConnection | ClientMultiStatements |
	ClientMultiResults | ClientPSMultiResults | ClientPluginAuth | ClientConnectAttrs |
	ClientPluginAuthLenencClientData | ClientDeprecateEOF

// Server status flags carried by OK and EOF packets.
const (
	StatusInTrans            uint16 = 0x0001
	StatusAutocommit         uint16 = 0x0002
	StatusMoreResultsExists  uint16 = 0x0008
	StatusNoGoodIndexUsed    uint16 = 0x0010
	StatusNoIndexUsed        uint16 = 0x0020
	StatusCursorExists       uint16 = 0x0040
	StatusLastRowSent        uint16 = 0x0080
	StatusDBDropped          uint16 = 0x0100
	StatusNoBackslashEscapes uint16 = 0x0200
	StatusInTransReadOnly    uint16 = 0x2000
)

// Command bytes: the first byte of every packet a client sends after the
// handshake.
const (
	comSleep            byte = 0x00
	comQuit             byte = 0x01
	comInitDB           byte = 0x02
	comQuery            byte = 0x03
	comFieldList        byte = 0x04
	comStatistics       byte = 0x09
	comPing             byte = 0x0e
	comStmtPrepare      byte = 0x16
	comStmtExecute      byte = 0x17
	comStmtSendLongData byte = 0x18
	comStmtClose        byte = 0x19
	comStmtReset        byte = 0x1a
	comSetOption        byte = 0x1b
	comResetConnection  byte = 0x1f
)

// Column types (MYSQL_TYPE_*).
const (
	TypeDecimal    byte = 0x00
	TypeTiny       byte = 0x01
	TypeShort      byte = 0x02
	TypeLong       byte = 0x03
	TypeFloat      byte = 0x04
	TypeDouble     byte = 0x05
	TypeNull       byte = 0x06
	TypeTimestamp  byte = 0x07
	TypeLongLong   byte = 0x08
	TypeInt24      byte = 0x09
	TypeDate       byte = 0x0a
	TypeTime       byte = 0x0b
	TypeDatetime   byte = 0x0c
	TypeYear       byte = 0x0d
	TypeNewDate    byte = 0x0e
	TypeVarchar    byte = 0x0f
	TypeBit        byte = 0x10
	TypeJSON       byte = 0xf5
	TypeNewDecimal byte = 0xf6
	TypeEnum       byte = 0xf7
	TypeSet        byte = 0xf8
	TypeTinyBlob   byte = 0xf9
	TypeMediumBlob byte = 0xfa
	TypeLongBlob   byte = 0xfb
	TypeBlob       byte = 0xfc
	TypeVarString  byte = 0xfd
	TypeString     byte = 0xfe
	TypeGeometry   byte = 0xff
)

// Column definition flags.
const (
	FlagNotNull        uint16 = 0x0001
	FlagPriKey         uint16 = 0x0002
	FlagUniqueKey      uint16 = 0x0004
	FlagMultipleKey    uint16 = 0x0008
	FlagBlob           uint16 = 0x0010
	FlagUnsigned       uint16 = 0x0020
	FlagZerofill       uint16 = 0x0040
	FlagBinary         uint16 = 0x0080
	FlagEnum           uint16 = 0x0100
	FlagAutoIncrement  uint16 = 0x0200
	FlagTimestamp      uint16 = 0x0400
	FlagSet            uint16 = 0x0800
	FlagNoDefaultValue uint16 = 0x1000
	FlagOnUpdateNow    uint16 = 0x2000
	FlagNum            uint16 = 0x8000
)

// Character sets (collation ids) used in column definitions.
const (
	CharsetUTF8MB4GeneralCI uint16 = 45
	CharsetBinary           uint16 = 63
)

// Error codes this package sends itself. Sessions send their own through
// errors that implement MySQLError.
const (
	ErrCodeConCount             uint16 = 1040 // Too many connections
	ErrCodeHandshake            uint16 = 1043 // Bad handshake
	ErrCodeAccessDenied         uint16 = 1045 // Access denied for user
	ErrCodeUnknownCom           uint16 = 1047 // Unknown command
	ErrCodeUnknown              uint16 = 1105 // Unknown error
	ErrCodeNetPacketTooLarge    uint16 = 1153 // Got a packet bigger than 'max_allowed_packet' bytes
	ErrCodeNetOutOfOrder        uint16 = 1156 // Got packets out of order
	ErrCodeWrongArguments       uint16 = 1210 // Incorrect arguments to %s
	ErrCodeUnknownStmt          uint16 = 1243 // Unknown prepared statement handler
	ErrCodeNotSupportedAuthMode uint16 = 1251 // Client does not support authentication protocol
	ErrCodeMalformedPacket      uint16 = 1835 // Malformed communication packet
	ErrCodeClientInactive       uint16 = 4031 // disconnected by the server because of inactivity
)

// Auth plugin names.
const (
	NativePassword      = "mysql_native_password"
	CachingSHA2Password = "caching_sha2_password"
)

// Packet header bytes.
const (
	iOK           byte = 0x00
	iAuthMoreData byte = 0x01
	iEOF          byte = 0xfe
	iAuthSwitch   byte = 0xfe
	iERR          byte = 0xff
	iNULL         byte = 0xfb // NULL in a text row
)

// maxPacketChunk is the largest payload one physical packet carries; a
// logical packet of this size or more continues in the next packet.
const maxPacketChunk = 1<<24 - 1
