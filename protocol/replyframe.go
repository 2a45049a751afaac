package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// A reply travels as its JSON, except that the pooled-Cox risk-set rows (CoxRows: thousands of
// rows a site, every Newton–Raphson round) travel after it as binary blocks: a framed reply is
//
//	JSON of the reply without its rows | 0x00 | block | block | …
//
// with one block (CoxRows.AppendBinary) per Cox reply that has rows, in the order of
// coxSlots, each Cox reply's JSON stating its block's length (CoxReply.RowsFramed). A JSON text
// never holds a 0x00 byte (not even inside a string), so the first 0x00 ends the JSON. Encoding
// the rows as base64 inside the JSON made every byte of them pass encoding/json's scanner on
// the client (validity check, then the string) and its escaping on the site; a framed reply is
// decoded at memory speed. The site's audit log holds the SHA-256 of the framed bytes as sent,
// and the client keeps the same bytes' digest with the result: one hash for both.
//
// A reply without rows is plain JSON, and UnmarshalReply reads plain JSON replies (with rows
// inline, as base64 or as an array of row objects) as before.

// replyFrameMark separates a framed reply's JSON from its binary blocks.
const replyFrameMark = 0x00

// MarshalReply encodes r for the wire: plain JSON, or a framed reply when some Cox reply of r
// (its own, or a screen model's) has risk-set rows.
func MarshalReply(r Reply) ([]byte, error) {
	var blocks [][]byte
	frame := func(c *CoxReply) *CoxReply {
		out, block := FrameCoxRows(c)
		if block != nil {
			blocks = append(blocks, block)
		}
		return out
	}
	// The payload is shared with the caller: the JSON is written from copies without rows.
	head := r
	if r.Cox != nil {
		head.Cox = frame(r.Cox)
	}
	if r.Screen != nil {
		s := *r.Screen
		s.Models = append([]ScreenModelReply(nil), s.Models...)
		for k := range s.Models {
			if s.Models[k].Cox != nil {
				s.Models[k].Cox = frame(s.Models[k].Cox)
			}
		}
		head.Screen = &s
	}
	out, err := json.Marshal(head)
	if err != nil || blocks == nil {
		return out, err
	}
	return AppendReplyBlocks(out, blocks...), nil
}

// FrameCoxRows prepares c to travel framed: it returns a copy of c without its rows and with
// RowsFramed set, and the rows' binary block. A c without rows is returned as it is, with a
// nil block. The screen (whose reply the node assembles from its models' encoded entries)
// frames each model's Cox reply with it; MarshalReply frames every Cox reply of a reply.
func FrameCoxRows(c *CoxReply) (*CoxReply, []byte) {
	if c == nil || len(c.Rows) == 0 {
		return c, nil
	}
	out := *c
	block, _ := c.Rows.AppendBinary(nil)
	out.Rows, out.RowsFramed = nil, len(block)
	return &out, block
}

// AppendReplyBlocks completes a framed reply: to the JSON of a reply whose Cox replies were
// prepared by FrameCoxRows it appends the frame mark and their blocks, in frame order (the
// reply's own Cox reply, then each screen model's; nil blocks, those of Cox replies without
// rows, are skipped). Without blocks it returns json as it is.
func AppendReplyBlocks(json []byte, blocks ...[]byte) []byte {
	n := len(json) + 1
	for _, b := range blocks {
		n += len(b)
	}
	if n == len(json)+1 {
		return json
	}
	out := append(make([]byte, 0, n), json...)
	out = append(out, replyFrameMark)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

// UnmarshalReply decodes a reply written by MarshalReply, or any plain JSON reply, into r.
func UnmarshalReply(b []byte, r *Reply) error {
	head, blocks, framed := bytes.Cut(b, []byte{replyFrameMark})
	if err := json.Unmarshal(head, r); err != nil {
		return err
	}
	for i, c := range coxSlots(r) {
		n := c.RowsFramed
		switch {
		case n == 0:
			continue
		case !framed:
			return fmt.Errorf("protocol: cox reply %d: rows_framed %d but no binary block follows the JSON", i, n)
		case n < 0 || n > len(blocks):
			return fmt.Errorf("protocol: cox reply %d: rows_framed %d, but %d bytes of blocks are left", i, n, len(blocks))
		case c.Rows != nil:
			return fmt.Errorf("protocol: cox reply %d: rows both in the JSON and in a binary block", i)
		}
		if err := c.Rows.UnmarshalBinary(blocks[:n]); err != nil {
			return fmt.Errorf("cox reply %d: %w", i, err)
		}
		blocks = blocks[n:]
		c.RowsFramed = 0 // the decoded reply is the one the site encoded
	}
	if framed && len(blocks) != 0 {
		return fmt.Errorf("protocol: %d bytes after the JSON of a reply that no rows_framed accounts for", len(blocks))
	}
	return nil
}

// ReplyJSONHead returns the JSON part of a reply as received: all of a plain JSON reply, the
// part before the binary blocks of a framed one.
func ReplyJSONHead(b []byte) []byte {
	head, _, _ := bytes.Cut(b, []byte{replyFrameMark})
	return head
}

// IsFramedReply reports whether b is a framed reply (MarshalReply), not plain JSON.
func IsFramedReply(b []byte) bool { return bytes.IndexByte(b, replyFrameMark) >= 0 }

// coxSlots lists the Cox replies of r in frame order: r.Cox, then each screen model's.
func coxSlots(r *Reply) []*CoxReply {
	var out []*CoxReply
	if r.Cox != nil {
		out = append(out, r.Cox)
	}
	if r.Screen != nil {
		for k := range r.Screen.Models {
			if c := r.Screen.Models[k].Cox; c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}
