package tape

import "strconv"

// AppendOrigin appends the origin id of the index-th event normalised from
// the raw message at topic/partition/offset: "feeds.raw/3/1207/0". The id is
// stable, so an event produced again after an ingester crash carries the
// same id as the first time and can be dropped downstream.
func AppendOrigin(dst []byte, topic string, partition int, offset int64, index int) []byte {
	dst = append(dst, topic...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(partition), 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, offset, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, int64(index), 10)
}

// OriginPos is the position an origin id names within its raw topic.
type OriginPos struct {
	Partition int
	Offset    int64
	Index     int
}

// Before reports whether p comes before o in the same raw partition.
func (p OriginPos) Before(o OriginPos) bool {
	return p.Offset < o.Offset || (p.Offset == o.Offset && p.Index < o.Index)
}

// ParseOrigin splits an origin id written by AppendOrigin. It reports false
// for ids of any other shape (a vendor's own sequence number, say).
func ParseOrigin(s string) (topic string, pos OriginPos, ok bool) {
	var fields [3]int64
	end := len(s)
	for i := 2; i >= 0; i-- {
		slash := end - 1
		for slash >= 0 && s[slash] != '/' {
			slash--
		}
		if slash < 0 || slash == end-1 || end-slash > 20 {
			return "", pos, false
		}
		v, err := strconv.ParseInt(s[slash+1:end], 10, 64)
		if err != nil || v < 0 {
			return "", pos, false
		}
		fields[i], end = v, slash
	}
	if end == 0 || fields[0] > 1<<31 || fields[2] > 1<<31 {
		return "", pos, false
	}
	return s[:end], OriginPos{Partition: int(fields[0]), Offset: fields[1], Index: int(fields[2])}, true
}
