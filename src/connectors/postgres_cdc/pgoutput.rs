//! The change messages of PostgreSQL's `pgoutput` logical decoding plugin
//! (protocol version 1: Relation, Type, Insert, Update, Delete, Truncate,
//! Origin), as PostgreSQL's "Logical Replication Message Formats" defines
//! them. pgwire-replication speaks the replication protocol and hands over
//! each message's bytes; Begin, Commit and logical messages it decodes
//! itself.

/// One column of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (the key pgoutput sends for deletes).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// A table's shape, sent before the first change to it in a session and
/// again after every `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub namespace: String,
    pub name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// One column value of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    Null,
    /// A TOASTed value that did not change (sent for updates without it).
    UnchangedToast,
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Relation(Relation),
    /// A data type's name, for types outside pg_catalog.
    Type {
        oid: u32,
        namespace: String,
        name: String,
    },
    Insert {
        relation: u32,
        new: Vec<TupleValue>,
    },
    Update {
        relation: u32,
        /// The old key (`K`) or, with `REPLICA IDENTITY FULL`, the old row
        /// (`O`); absent when the key did not change.
        old: Option<Vec<TupleValue>>,
        /// Whether `old` is the whole row.
        old_is_full: bool,
        new: Vec<TupleValue>,
    },
    Delete {
        relation: u32,
        old: Vec<TupleValue>,
        old_is_full: bool,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    Origin {
        lsn: u64,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pgoutput {message}: {problem}")]
pub struct DecodeError {
    pub message: String,
    pub problem: String,
}

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn fail(&self, problem: impl Into<String>) -> DecodeError {
        DecodeError {
            message: self.what.to_owned(),
            problem: problem.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(self.fail(format!(
                "{n} more bytes expected, {} left",
                self.bytes.len()
            )));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A NUL-terminated string.
    fn string(&mut self) -> Result<String, DecodeError> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.fail("a string without its NUL"))?;
        let s = String::from_utf8(self.bytes[..end].to_vec())
            .map_err(|_| self.fail("a string that is not UTF-8"))?;
        self.bytes = &self.bytes[end + 1..];
        Ok(s)
    }

    fn tuple(&mut self) -> Result<Vec<TupleValue>, DecodeError> {
        let n = self.i16()?;
        let mut values = Vec::with_capacity(n.max(0) as usize);
        for _ in 0..n {
            values.push(match self.u8()? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::UnchangedToast,
                b't' => {
                    let len = self.i32()?;
                    let bytes = self.take(len.max(0) as usize)?;
                    TupleValue::Text(
                        String::from_utf8(bytes.to_vec())
                            .map_err(|_| self.fail("a text value that is not UTF-8"))?,
                    )
                }
                b'b' => return Err(self.fail("a binary value (the stream runs in text mode)")),
                other => {
                    return Err(self.fail(format!("unknown tuple value kind {:?}", other as char)))
                }
            });
        }
        Ok(values)
    }
}

/// Decodes one pgoutput message; `Ok(None)` for kinds this connector does
/// not use (Begin/Commit/Message come decoded from pgwire-replication).
pub fn decode(bytes: &[u8]) -> Result<Option<Message>, DecodeError> {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Err(DecodeError {
            message: "message".into(),
            problem: "empty".into(),
        });
    };
    let what = match tag {
        b'R' => "Relation",
        b'Y' => "Type",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        b'O' => "Origin",
        _ => return Ok(None),
    };
    let mut r = Reader { bytes: rest, what };
    let message = match tag {
        b'R' => {
            let id = r.u32()?;
            let namespace = r.string()?;
            let name = r.string()?;
            let replica_identity = r.u8()?;
            let n = r.i16()?;
            let mut columns = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                let flags = r.u8()?;
                columns.push(RelationColumn {
                    key: flags & 1 == 1,
                    name: r.string()?,
                    type_oid: r.u32()?,
                    type_modifier: r.i32()?,
                });
            }
            Message::Relation(Relation {
                id,
                // pgoutput sends "" for pg_catalog.
                namespace: if namespace.is_empty() {
                    "pg_catalog".into()
                } else {
                    namespace
                },
                name,
                replica_identity,
                columns,
            })
        }
        b'Y' => Message::Type {
            oid: r.u32()?,
            namespace: r.string()?,
            name: r.string()?,
        },
        b'I' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'N' => Message::Insert {
                    relation,
                    new: r.tuple()?,
                },
                other => return Err(r.fail(format!("expected N, got {:?}", other as char))),
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, old_is_full) = match r.u8()? {
                b'K' => {
                    let old = r.tuple()?;
                    expect(&mut r, b'N')?;
                    (Some(old), false)
                }
                b'O' => {
                    let old = r.tuple()?;
                    expect(&mut r, b'N')?;
                    (Some(old), true)
                }
                b'N' => (None, false),
                other => return Err(r.fail(format!("expected K, O or N, got {:?}", other as char))),
            };
            Message::Update {
                relation,
                old,
                old_is_full,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let relation = r.u32()?;
            let old_is_full = match r.u8()? {
                b'K' => false,
                b'O' => true,
                other => return Err(r.fail(format!("expected K or O, got {:?}", other as char))),
            };
            Message::Delete {
                relation,
                old: r.tuple()?,
                old_is_full,
            }
        }
        b'T' => {
            let n = r.i32()?;
            let options = r.u8()?;
            let mut relations = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                relations.push(r.u32()?);
            }
            Message::Truncate {
                relations,
                cascade: options & 1 == 1,
                restart_identity: options & 2 == 2,
            }
        }
        b'O' => Message::Origin {
            lsn: r.u64()?,
            name: r.string()?,
        },
        _ => unreachable!("tags are matched above"),
    };
    Ok(Some(message))
}

fn expect(r: &mut Reader<'_>, tag: u8) -> Result<(), DecodeError> {
    match r.u8()? {
        t if t == tag => Ok(()),
        other => Err(r.fail(format!(
            "expected {:?}, got {:?}",
            tag as char, other as char
        ))),
    }
}

/// pgoutput's encoding, for tests (of this module and of the task).
#[cfg(test)]
pub mod encode {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn tuple(out: &mut Vec<u8>, values: &[TupleValue]) {
        out.extend_from_slice(&(values.len() as i16).to_be_bytes());
        for v in values {
            match v {
                TupleValue::Null => out.push(b'n'),
                TupleValue::UnchangedToast => out.push(b'u'),
                TupleValue::Text(t) => {
                    out.push(b't');
                    out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    out.extend_from_slice(t.as_bytes());
                }
            }
        }
    }

    pub fn message(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        match m {
            Message::Relation(rel) => {
                out.push(b'R');
                out.extend_from_slice(&rel.id.to_be_bytes());
                string(&mut out, &rel.namespace);
                string(&mut out, &rel.name);
                out.push(rel.replica_identity);
                out.extend_from_slice(&(rel.columns.len() as i16).to_be_bytes());
                for c in &rel.columns {
                    out.push(u8::from(c.key));
                    string(&mut out, &c.name);
                    out.extend_from_slice(&c.type_oid.to_be_bytes());
                    out.extend_from_slice(&c.type_modifier.to_be_bytes());
                }
            }
            Message::Type {
                oid,
                namespace,
                name,
            } => {
                out.push(b'Y');
                out.extend_from_slice(&oid.to_be_bytes());
                string(&mut out, namespace);
                string(&mut out, name);
            }
            Message::Insert { relation, new } => {
                out.push(b'I');
                out.extend_from_slice(&relation.to_be_bytes());
                out.push(b'N');
                tuple(&mut out, new);
            }
            Message::Update {
                relation,
                old,
                old_is_full,
                new,
            } => {
                out.push(b'U');
                out.extend_from_slice(&relation.to_be_bytes());
                if let Some(old) = old {
                    out.push(if *old_is_full { b'O' } else { b'K' });
                    tuple(&mut out, old);
                }
                out.push(b'N');
                tuple(&mut out, new);
            }
            Message::Delete {
                relation,
                old,
                old_is_full,
            } => {
                out.push(b'D');
                out.extend_from_slice(&relation.to_be_bytes());
                out.push(if *old_is_full { b'O' } else { b'K' });
                tuple(&mut out, old);
            }
            Message::Truncate {
                relations,
                cascade,
                restart_identity,
            } => {
                out.push(b'T');
                out.extend_from_slice(&(relations.len() as i32).to_be_bytes());
                out.push(u8::from(*cascade) | (u8::from(*restart_identity) << 1));
                for r in relations {
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            Message::Origin { lsn, name } => {
                out.push(b'O');
                out.extend_from_slice(&lsn.to_be_bytes());
                string(&mut out, name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn relation() -> Relation {
        Relation {
            id: 16385,
            namespace: "public".into(),
            name: "orders".into(),
            replica_identity: b'd',
            columns: vec![
                RelationColumn {
                    key: true,
                    name: "id".into(),
                    type_oid: 23,
                    type_modifier: -1,
                },
                RelationColumn {
                    key: false,
                    name: "amount".into(),
                    type_oid: 1700,
                    type_modifier: 655366,
                },
            ],
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let text = |s: &str| TupleValue::Text(s.into());
        for m in [
            Message::Relation(relation()),
            Message::Type {
                oid: 16400,
                namespace: "public".into(),
                name: "mood".into(),
            },
            Message::Insert {
                relation: 16385,
                new: vec![text("1"), TupleValue::Null],
            },
            Message::Update {
                relation: 16385,
                old: Some(vec![text("1"), TupleValue::Null]),
                old_is_full: false,
                new: vec![text("2"), TupleValue::UnchangedToast],
            },
            Message::Update {
                relation: 16385,
                old: None,
                old_is_full: false,
                new: vec![text("3")],
            },
            Message::Delete {
                relation: 16385,
                old: vec![text("1"), text("9.50")],
                old_is_full: true,
            },
            Message::Truncate {
                relations: vec![1, 2],
                cascade: true,
                restart_identity: false,
            },
            Message::Origin {
                lsn: 0x16_B374_D848,
                name: "upstream".into(),
            },
        ] {
            assert_eq!(decode(&encode::message(&m)).unwrap(), Some(m));
        }
    }

    #[test]
    fn the_catalog_namespace_is_spelled_out_and_unused_kinds_skipped() {
        let mut rel = relation();
        rel.namespace = String::new();
        let Some(Message::Relation(decoded)) =
            decode(&encode::message(&Message::Relation(rel))).unwrap()
        else {
            panic!("a relation");
        };
        assert_eq!(decoded.namespace, "pg_catalog");
        assert_eq!(decode(b"B\0\0\0\0\0\0\0\0").unwrap(), None);
    }

    #[test]
    fn truncated_and_malformed_messages_are_errors_naming_the_kind() {
        let bytes = encode::message(&Message::Insert {
            relation: 1,
            new: vec![TupleValue::Text("hello".into())],
        });
        let e = decode(&bytes[..bytes.len() - 2]).unwrap_err();
        assert_eq!(e.message, "Insert");
        assert!(decode(b"").is_err());
        let e = decode(b"D\0\0\0\x01X").unwrap_err();
        assert!(e.to_string().contains("expected K or O"), "{e}");
    }

    proptest! {
        #[test]
        fn tuples_round_trip(values in proptest::collection::vec(
            prop_oneof![
                Just(TupleValue::Null),
                Just(TupleValue::UnchangedToast),
                "\\PC{0,20}".prop_map(TupleValue::Text),
            ],
            0..12,
        )) {
            let m = Message::Insert { relation: 7, new: values };
            prop_assert_eq!(decode(&encode::message(&m)).unwrap(), Some(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
