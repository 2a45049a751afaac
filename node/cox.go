package node

import (
	"github.com/oncofed/oncofed/protocol"
)

func (e *Engine) cox(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	return answer{}, errorf(protocol.CodeUnavailable, "cox queries are not served yet")
}
