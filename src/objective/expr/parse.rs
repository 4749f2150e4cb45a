//! The formula language of `--objective expr:…`: a lexer and a recursive-descent parser into a
//! syntax tree ([`Program`]) that remembers where each part stood, for error carets, and prints
//! back to text that parses to the same tree.
//!
//! Grammar (statements end with `;`, the last one is the formula itself):
//!
//! ```text
//! program   = { directive ";" | "let" NAME "=" expr ";" } expr [";"]
//! directive = "n" "=" INTEGER | "sphere"
//! expr      = term { ("+" | "-") term }
//! term      = unary { ("*" | "/") unary }
//! unary     = ("-" | "+") unary | power
//! power     = atom [ "^" unary ]                      (right-associative: 2^3^2 = 2^9)
//! atom      = NUMBER | NAME | NAME "[" expr "]" | NAME "(" expr { "," expr } ")" | "(" expr ")"
//! ```
//!
//! `#` starts a comment to the end of the line.

use std::fmt;

/// The functions a formula may call, with their number of arguments (`sum` has its own form).
pub const FUNCTIONS: &[(&str, usize)] = &[
    ("sin", 1),
    ("cos", 1),
    ("tan", 1),
    ("exp", 1),
    ("log", 1),
    ("sqrt", 1),
    ("abs", 1),
    ("tanh", 1),
    ("sigmoid", 1),
    ("softplus", 1),
    ("relu", 1),
    ("max", 2),
    ("min", 2),
    ("sum", 4),
];

/// The list of valid functions, for error messages and `list`.
pub fn function_list() -> String {
    FUNCTIONS
        .iter()
        .map(|(f, k)| match (*f, *k) {
            ("sum", _) => "sum(i, a, b, term)".to_string(),
            (f, 1) => format!("{f}(x)"),
            (f, _) => format!("{f}(x, y)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A problem at a byte offset of the formula's text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl ParseError {
    pub fn at(pos: usize, message: impl Into<String>) -> Self {
        ParseError {
            pos,
            message: message.into(),
        }
    }

    /// The message with the offending line of `source` and a caret under the bad place.
    pub fn render(&self, source: &str) -> String {
        let pos = self.pos.min(source.len());
        let start = source[..pos].rfind('\n').map_or(0, |i| i + 1);
        let end = source[pos..].find('\n').map_or(source.len(), |i| pos + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let line = &source[start..end];
        let col = source[start..pos].chars().count();
        let prefix = if source.contains('\n') {
            format!("line {line_no}: ")
        } else {
            String::new()
        };
        format!(
            "{}\n    {prefix}{line}\n    {}^",
            self.message,
            " ".repeat(prefix.chars().count() + col)
        )
    }
}

/// One node of the syntax tree and where it starts in the text.
#[derive(Debug, Clone)]
pub struct Ast {
    pub kind: Kind,
    pub pos: usize,
}

/// The trees are equal when their kinds are: positions do not count.
impl PartialEq for Ast {
    fn eq(&self, other: &Ast) -> bool {
        self.kind == other.kind
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Num(f64),
    /// A plain name: a variable (x, y, z, x0, …), a constant (pi, e), `n`, a `let` name or the
    /// index of an enclosing `sum`.
    Name(String),
    /// `x[index]`.
    Index(Box<Ast>),
    Neg(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    Call(String, Vec<Ast>),
    /// `sum(i, lo, hi, term)`: term summed over the integers lo ..= hi.
    Sum(String, Box<Ast>, Box<Ast>, Box<Ast>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
        }
    }
}

/// A parsed formula: header directives, definitions and the formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// `n = INTEGER;`: the dimension of a vector form.
    pub n: Option<usize>,
    /// `sphere;`: the objective lives on |x|^2 = N.
    pub sphere: bool,
    pub lets: Vec<(String, Ast)>,
    pub body: Ast,
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Num(v) => write!(f, "{v:?}"),
            Kind::Name(s) => write!(f, "{s}"),
            Kind::Index(i) => write!(f, "x[{i}]"),
            Kind::Neg(a) => write!(f, "(-{a})"),
            Kind::Bin(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Kind::Call(name, args) => {
                write!(f, "{name}(")?;
                for (k, a) in args.iter().enumerate() {
                    if k > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
            Kind::Sum(i, lo, hi, t) => write!(f, "sum({i}, {lo}, {hi}, {t})"),
        }
    }
}

/// One line, in the canonical form the spec of the objective records.
impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.n {
            write!(f, "n = {n}; ")?;
        }
        if self.sphere {
            write!(f, "sphere; ")?;
        }
        for (name, a) in &self.lets {
            write!(f, "let {name} = {a}; ")?;
        }
        write!(f, "{}", self.body)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Sym(char),
    End,
}

/// Splits the text into tokens with their offsets.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &src[start..i];
            let v: f64 = text.parse().map_err(|_| {
                ParseError::at(
                    start,
                    format!("'{text}' is not a number; valid: 3, 2.5, .5, 1e-3, 6.02E23"),
                )
            })?;
            if !v.is_finite() {
                return Err(ParseError::at(
                    start,
                    format!("{text} is too large for f64"),
                ));
            }
            out.push((Tok::Num(v), start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Name(src[start..i].to_string()), start));
        } else if b"+-*/^()[],;=".contains(&c) {
            out.push((Tok::Sym(c as char), i));
            i += 1;
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(ParseError::at(
                i,
                format!(
                    "unexpected character '{ch}'; valid: numbers, names, + - * / ^ ( ) [ ] , ; ="
                ),
            ));
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// The deepest nesting a formula may have (the parser recurses once per level).
fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number {v}"),
        Tok::Name(s) => format!("name '{s}'"),
        Tok::Sym(c) => format!("'{c}'"),
        Tok::End => "the end of the formula".to_string(),
    }
}

/// The deepest nesting a formula may have (the parser recurses once per level).
const MAX_DEPTH: usize = 200;

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

/// Parses a whole formula (or formula file).
pub fn parse(src: &str) -> Result<Program, ParseError> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
        depth: 0,
    };
    let mut prog = Program {
        n: None,
        sphere: false,
        lets: Vec::new(),
        body: Ast {
            kind: Kind::Num(0.0),
            pos: 0,
        },
    };
    loop {
        match (p.peek().clone(), p.peek2().clone()) {
            (Tok::Name(s), Tok::Sym('=')) if s == "n" => {
                p.at += 2;
                let pos = p.pos();
                match p.next() {
                    Tok::Num(v) if v.fract() == 0.0 && (1.0..=65536.0).contains(&v) => {
                        prog.n = Some(v as usize)
                    }
                    _ => {
                        return Err(ParseError::at(
                            pos,
                            "n must be an integer in 1..=65536 (the dimension)",
                        ))
                    }
                }
                p.expect(';', "';' after the header 'n = …'")?;
            }
            (Tok::Name(s), Tok::Sym(';')) if s == "sphere" => {
                p.at += 2;
                prog.sphere = true;
            }
            (Tok::Name(s), _) if s == "let" => {
                p.at += 1;
                let pos = p.pos();
                let name = match p.next() {
                    Tok::Name(s) if !reserved(&s) => s,
                    Tok::Name(s) => {
                        return Err(ParseError::at(
                            pos,
                            format!("'{s}' is reserved (a variable, constant or function); choose another name"),
                        ))
                    }
                    _ => return Err(ParseError::at(pos, "expected a name after 'let'")),
                };
                if prog.lets.iter().any(|(n, _)| *n == name) {
                    return Err(ParseError::at(pos, format!("'{name}' is defined twice")));
                }
                p.expect('=', "'=' after 'let NAME'")?;
                let e = p.expr()?;
                p.expect(';', "';' after a definition")?;
                prog.lets.push((name, e));
            }
            _ => break,
        }
    }
    prog.body = p.expr()?;
    if *p.peek() == Tok::Sym(';') {
        p.at += 1;
    }
    if *p.peek() != Tok::End {
        return Err(ParseError::at(
            p.pos(),
            format!(
                "unexpected {} after the formula; expected an operator + - * / ^ or the end",
                p.describe()
            ),
        ));
    }
    Ok(prog)
}

/// Names a `let` may not take.
fn reserved(s: &str) -> bool {
    is_variable(s)
        || ["pi", "e", "n", "let", "sphere"].contains(&s)
        || FUNCTIONS.iter().any(|(f, _)| *f == s)
}

/// x, y, z, or x followed by decimal digits.
pub fn is_variable(s: &str) -> bool {
    matches!(s, "x" | "y" | "z")
        || (s.len() > 1 && s.starts_with('x') && s[1..].bytes().all(|c| c.is_ascii_digit()))
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].0
    }
    fn peek2(&self) -> &Tok {
        &self.toks[(self.at + 1).min(self.toks.len() - 1)].0
    }
    fn pos(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].1
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }
    fn describe(&self) -> String {
        describe(self.peek())
    }
    fn expect(&mut self, c: char, what: &str) -> Result<(), ParseError> {
        if *self.peek() == Tok::Sym(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(ParseError::at(
                self.pos(),
                format!("expected {what}, found {}", self.describe()),
            ))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::at(
                self.pos(),
                format!("the formula nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Ast, ParseError> {
        self.enter()?;
        let mut a = self.term()?;
        while let Tok::Sym(c @ ('+' | '-')) = *self.peek() {
            let pos = self.pos();
            self.at += 1;
            let b = self.term()?;
            let op = if c == '+' { BinOp::Add } else { BinOp::Sub };
            a = Ast {
                kind: Kind::Bin(op, Box::new(a), Box::new(b)),
                pos,
            };
        }
        self.depth -= 1;
        Ok(a)
    }

    fn term(&mut self) -> Result<Ast, ParseError> {
        let mut a = self.unary()?;
        while let Tok::Sym(c @ ('*' | '/')) = *self.peek() {
            let pos = self.pos();
            self.at += 1;
            let b = self.unary()?;
            let op = if c == '*' { BinOp::Mul } else { BinOp::Div };
            a = Ast {
                kind: Kind::Bin(op, Box::new(a), Box::new(b)),
                pos,
            };
        }
        Ok(a)
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        self.enter()?;
        let pos = self.pos();
        let r = match *self.peek() {
            Tok::Sym('-') => {
                self.at += 1;
                let a = self.unary()?;
                Ok(Ast {
                    kind: Kind::Neg(Box::new(a)),
                    pos,
                })
            }
            Tok::Sym('+') => {
                self.at += 1;
                self.unary()
            }
            _ => self.power(),
        };
        self.depth -= 1;
        r
    }

    fn power(&mut self) -> Result<Ast, ParseError> {
        let a = self.atom()?;
        if *self.peek() == Tok::Sym('^') {
            let pos = self.pos();
            self.at += 1;
            let b = self.unary()?;
            return Ok(Ast {
                kind: Kind::Bin(BinOp::Pow, Box::new(a), Box::new(b)),
                pos,
            });
        }
        Ok(a)
    }

    fn atom(&mut self) -> Result<Ast, ParseError> {
        let pos = self.pos();
        match self.next() {
            Tok::Num(v) => Ok(Ast {
                kind: Kind::Num(v),
                pos,
            }),
            Tok::Sym('(') => {
                let e = self.expr()?;
                self.expect(')', "')' to close the '(' opened before")?;
                Ok(e)
            }
            Tok::Name(name) => {
                match *self.peek() {
                    Tok::Sym('(') => self.call(name, pos),
                    Tok::Sym('[') => {
                        if name != "x" {
                            return Err(ParseError::at(
                                pos,
                                format!("only x can be indexed (x[i]); '{name}' cannot"),
                            ));
                        }
                        self.at += 1;
                        let i = self.expr()?;
                        self.expect(']', "']' to close 'x['")?;
                        Ok(Ast {
                            kind: Kind::Index(Box::new(i)),
                            pos,
                        })
                    }
                    _ => {
                        if FUNCTIONS.iter().any(|(f, _)| *f == name) {
                            return Err(ParseError::at(
                            pos,
                            format!("function '{name}' needs its arguments in parentheses: {name}(…)"),
                        ));
                        }
                        Ok(Ast {
                            kind: Kind::Name(name),
                            pos,
                        })
                    }
                }
            }
            other => Err(ParseError::at(
                pos,
                format!(
                    "expected a number, a variable, a function or '(', found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Ast, ParseError> {
        let arity = FUNCTIONS
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                ParseError::at(
                    pos,
                    format!(
                        "unknown function '{name}'; valid functions: {}",
                        function_list()
                    ),
                )
            })?;
        self.at += 1; // '('
        let mut args = Vec::new();
        if name == "sum" {
            let ipos = self.pos();
            match self.next() {
                Tok::Name(i) if !reserved(&i) => args.push(Ast {
                    kind: Kind::Name(i),
                    pos: ipos,
                }),
                _ => {
                    return Err(ParseError::at(
                        ipos,
                        "sum's first argument is the name of its index, as in sum(i, 0, 7, x[i]^2)",
                    ))
                }
            }
            self.expect(',', "',' after the index of sum(i, a, b, term)")?;
        }
        loop {
            args.push(self.expr()?);
            if *self.peek() == Tok::Sym(',') {
                self.at += 1;
            } else {
                break;
            }
        }
        let close = self.pos();
        self.expect(')', &format!("')' to close {name}("))?;
        if args.len() != arity {
            return Err(ParseError::at(
                close,
                format!(
                    "{name} takes {arity} argument{}, given {}; valid functions: {}",
                    if arity == 1 { "" } else { "s" },
                    args.len(),
                    function_list()
                ),
            ));
        }
        if name == "sum" {
            let mut it = args.into_iter();
            if let (Some(i), Some(lo), Some(hi), Some(t)) =
                (it.next(), it.next(), it.next(), it.next())
            {
                if let Kind::Name(i) = i.kind {
                    return Ok(Ast {
                        kind: Kind::Sum(i, Box::new(lo), Box::new(hi), Box::new(t)),
                        pos,
                    });
                }
            }
            return Err(ParseError::at(pos, "malformed sum(i, a, b, term)"));
        }
        Ok(Ast {
            kind: Kind::Call(name, args),
            pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_associativity_follow_mathematics() {
        let p = parse("-x^2 + 2*y/3 - 2^3^2").unwrap();
        assert_eq!(
            p.body.to_string(),
            "(((-(x ^ 2.0)) + ((2.0 * y) / 3.0)) - (2.0 ^ (3.0 ^ 2.0)))"
        );
        let p = parse("n = 8; sphere; let a = x[0]; sum(i, 0, n - 1, a * x[i])").unwrap();
        assert_eq!((p.n, p.sphere, p.lets.len()), (Some(8), true, 1));
        assert_eq!(parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn numbers_in_any_float_syntax() {
        for (t, v) in [
            ("3", 3.0),
            ("2.5", 2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e-3", 1e-3),
            ("6.02E+23", 6.02e23),
        ] {
            assert_eq!(parse(t).unwrap().body.kind, Kind::Num(v), "{t}");
        }
    }

    #[test]
    fn errors_point_at_the_bad_place() {
        let src = "sin(x) + foo(y)";
        let e = parse(src).unwrap_err();
        assert_eq!(e.pos, 9);
        let r = e.render(src);
        assert!(
            r.contains("unknown function 'foo'") && r.contains("sqrt(x)"),
            "{r}"
        );
        assert!(r.ends_with(&format!("{}^", " ".repeat(4 + 9))), "{r}");
        let e = parse("(x + y").unwrap_err();
        assert_eq!(e.pos, 6);
        let e = parse("max(x)").unwrap_err();
        assert!(
            e.message.contains("max takes 2 arguments, given 1"),
            "{e:?}"
        );
    }
}
