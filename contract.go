package tape

// Names of the contract between feed adapters, ingesters and web nodes
// (see README.md, "The contract"). They are written here once; every
// package and command uses these.

// Default topic names; each is configurable on the command line.
const (
	// TopicRaw holds vendor messages as adapters produced them; the
	// HeaderFormat header names the format (sniffed when absent).
	TopicRaw = "feeds.raw"
	// TopicQuotes holds normalised events, keyed by symbol.
	TopicQuotes = "quotes"
	// TopicLatest is compacted and keyed by symbol: the last quote of
	// every symbol.
	TopicLatest = "quotes.latest"
	// TopicDLQ holds rejected input with the reason in headers.
	TopicDLQ = "feeds.dlq"
	// TopicEvents holds normalised events keyed by symbol, partitioned like
	// TopicQuotes (same count, CRC32 of the symbol), so that every event of
	// a symbol meets the one fold that owns it.
	TopicEvents = "feeds.events"
	// TopicNodes is compacted and keyed by process id: each web node and
	// ingester's latest heartbeat (a JSON object; a null value when it
	// stopped), which is how they find each other and pages find nodes.
	TopicNodes = "tape.nodes"
)

// LatestMarkerKey is the key of the marker record in each partition of
// TopicLatest: through which TopicEvents offset that partition's
// checkpoints are complete. It can never be a symbol ('#' is not a symbol
// character), and its value does not read as a quote.
const LatestMarkerKey = "#fold"

// Kafka headers on raw and dead-letter messages.
const (
	// HeaderFormat names the format of a raw message (one of the Format
	// names); on a dead letter, the format it was read as.
	HeaderFormat = "format"
	// HeaderReason is a dead letter's error code (ECode...).
	HeaderReason = "reason"
	// HeaderError is a dead letter's message, safe to show.
	HeaderError = "error"
	// HeaderOriginTopic, HeaderOriginPartition and HeaderOriginOffset
	// name the raw message a dead letter came from; HeaderOriginIndex the
	// element within it (-1 for the whole message).
	HeaderOriginTopic     = "origin-topic"
	HeaderOriginPartition = "origin-partition"
	HeaderOriginOffset    = "origin-offset"
	HeaderOriginIndex     = "origin-index"
	// HeaderReasons is a dead letter's JSON list of every rejected element,
	// [{"index":i,"reason":code,"error":message},...], bounded in size;
	// HeaderRejectCount is how many there were in all.
	HeaderReasons     = "reasons"
	HeaderRejectCount = "reject-count"
	// HeaderTruncated is "true" on a dead letter whose value holds only the
	// first bytes of the raw message; HeaderOriginalLength is the raw
	// message's length in bytes. The whole message stays in the origin
	// topic at the origin partition and offset.
	HeaderTruncated      = "truncated"
	HeaderOriginalLength = "original-length"
)

// Names of the feed formats, as carried in the HeaderFormat header.
const (
	// FormatTape is tape's own JSON event object, or an array of them.
	FormatTape = "tape"
	// FormatPolygon is the Polygon (now Massive) stocks WebSocket stream.
	FormatPolygon = "polygon"
	// FormatAlpaca is the Alpaca market-data v2 WebSocket stream.
	FormatAlpaca = "alpaca"
	// FormatFinnhub is the Finnhub trades WebSocket stream.
	FormatFinnhub = "finnhub"
	// FormatFIX is FIX 4.4 market data (35=W and 35=X) in tag=value form.
	FormatFIX = "fix"
	// FormatCSV is lines of symbol,ts,bid,ask,last,size.
	FormatCSV = "csv"
)

// Bounds of a stream's rate cap (/events?max_rate=), in quotes per symbol
// per second.
const (
	MinMaxRate = 0.1
	MaxMaxRate = 1000.0
)
