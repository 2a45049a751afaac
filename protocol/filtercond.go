package protocol

import "fmt"

// cond parses one condition on a variable (the last rule of the grammar in filterparse.go).
func (p *filterParser) cond() (*Filter, error) {
	v := p.next()
	if v.kind != tokWord && v.kind != tokString {
		return nil, &FilterError{v.pos, fmt.Sprintf("expected a variable name, found %s", describe(v))}
	}
	op := p.next()
	if isOp(op, "<", "<=") && p.i+1 < len(p.toks) && isOp(p.toks[p.i+1], "<", "<=") {
		return p.between(v, op)
	}
	typ, err := p.typeOf(v)
	if err != nil {
		return nil, err
	}
	switch {
	case isKeyword(op, "is"):
		negate := false
		if isKeyword(p.peek(), "not") {
			p.next()
			negate = true
		}
		if m := p.next(); !isKeyword(m, "missing") {
			return nil, &FilterError{m.pos, fmt.Sprintf("expected 'missing' after 'is', found %s", describe(m))}
		}
		if negate {
			return p.node(&Filter{Op: OpPresent, Var: v.text}, v.pos), nil
		}
		return p.node(&Filter{Op: OpMissing, Var: v.text}, v.pos), nil
	case isKeyword(op, "in"), isKeyword(op, "not") && isKeyword(p.peek(), "in"):
		negate := isKeyword(op, "not")
		if negate {
			p.next()
		}
		if typ == Numeric {
			return nil, &FilterError{op.pos, fmt.Sprintf("%q is numeric: use <, <=, >, >=", v.text)}
		}
		values, err := p.valueList()
		if err != nil {
			return nil, err
		}
		f := p.node(&Filter{Op: OpIn, Var: v.text, Values: values}, v.pos)
		if negate {
			return p.notKnown(v, f), nil
		}
		return f, nil
	case isOp(op, "=", "!="):
		val := p.next()
		if val.kind != tokWord && val.kind != tokString {
			return nil, &FilterError{val.pos, fmt.Sprintf("expected a value after %q, found %s", op.text, describe(val))}
		}
		var f *Filter
		x, isNumber := filterNumber(val)
		if typ == Numeric || (typ == "" && isNumber) {
			if !isNumber {
				return nil, &FilterError{val.pos, fmt.Sprintf("%q is numeric but %q is not a number", v.text, val.text)}
			}
			f = &Filter{Op: OpRange, Var: v.text, Min: &x, Max: ptr(x)}
		} else {
			f = &Filter{Op: OpEq, Var: v.text, Value: val.text}
		}
		p.node(f, v.pos)
		if op.text == "!=" {
			return p.notKnown(v, f), nil
		}
		return f, nil
	case isOp(op, "<", "<=", ">", ">="):
		if typ == Categorical {
			return nil, &FilterError{op.pos, fmt.Sprintf("%q is categorical: use =, != or in", v.text)}
		}
		val := p.next()
		x, ok := filterNumber(val)
		if !ok {
			return nil, &FilterError{val.pos, fmt.Sprintf("expected a number after %q, found %s", op.text, describe(val))}
		}
		f := &Filter{Op: OpRange, Var: v.text}
		switch op.text {
		case "<":
			f.Max, f.MaxOpen = &x, true
		case "<=":
			f.Max = &x
		case ">":
			f.Min, f.MinOpen = &x, true
		case ">=":
			f.Min = &x
		}
		return p.node(f, v.pos), nil
	}
	return nil, &FilterError{op.pos, fmt.Sprintf("expected =, !=, <, <=, >, >=, in or is after %q, found %s", v.text, describe(op))}
}

func ptr(x float64) *float64 { return &x }

// typeOf is v's type from p.types ("" without types); an unknown variable is an error.
func (p *filterParser) typeOf(v token) (VariableType, error) {
	if p.types == nil {
		return "", nil
	}
	typ, known := p.types(v.text)
	if !known {
		return "", &FilterError{v.pos, fmt.Sprintf("unknown variable %q", v.text)}
	}
	return typ, nil
}

// between parses the rest of `lo <(=) VAR <(=) hi`, lo and op already read.
func (p *filterParser) between(lo, op token) (*Filter, error) {
	min, ok := filterNumber(lo)
	if !ok {
		return nil, &FilterError{lo.pos, fmt.Sprintf("expected a number before %q, found %s", op.text, describe(lo))}
	}
	v := p.next()
	if v.kind != tokWord && v.kind != tokString {
		return nil, &FilterError{v.pos, fmt.Sprintf("expected a variable name, found %s", describe(v))}
	}
	typ, err := p.typeOf(v)
	if err != nil {
		return nil, err
	}
	op2 := p.next()
	if typ == Categorical {
		return nil, &FilterError{op.pos, fmt.Sprintf("%q is categorical: use =, != or in", v.text)}
	}
	hi := p.next()
	max, ok := filterNumber(hi)
	if !ok {
		return nil, &FilterError{hi.pos, fmt.Sprintf("expected a number after %q, found %s", op2.text, describe(hi))}
	}
	f := &Filter{Op: OpRange, Var: v.text, Min: &min, Max: &max, MinOpen: op.text == "<", MaxOpen: op2.text == "<"}
	return p.node(f, lo.pos), nil
}

// notKnown is "value known and not f": a patient with a missing value is neither equal nor
// different.
func (p *filterParser) notKnown(v token, f *Filter) *Filter {
	return p.node(&Filter{Op: OpAnd, Args: []*Filter{
		p.node(&Filter{Op: OpPresent, Var: v.text}, v.pos),
		p.node(&Filter{Op: OpNot, Args: []*Filter{f}}, v.pos),
	}}, v.pos)
}

func (p *filterParser) valueList() ([]string, error) {
	open := p.next()
	if !isOp(open, "(") {
		return nil, &FilterError{open.pos, fmt.Sprintf("expected '(' after 'in', found %s", describe(open))}
	}
	var values []string
	for {
		val := p.next()
		if val.kind != tokWord && val.kind != tokString {
			return nil, &FilterError{val.pos, fmt.Sprintf("expected a value, found %s", describe(val))}
		}
		values = append(values, val.text)
		if len(values) > MaxFilterValues {
			return nil, &FilterError{val.pos, fmt.Sprintf("more than %d values", MaxFilterValues)}
		}
		sep := p.next()
		if isOp(sep, ")") {
			return values, nil
		}
		if !isOp(sep, ",") {
			return nil, &FilterError{sep.pos, fmt.Sprintf("expected ',' or ')' in the value list, found %s", describe(sep))}
		}
	}
}
