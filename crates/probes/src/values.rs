//! PostgreSQL result values as JSON, the shape core's checks compare: integers as numbers,
//! `numeric` as its exact decimal text (a JSON number could lose digits), text as strings.

use serde_json::{Number, Value};
use std::fmt::Write as _;
use tokio_postgres::types::{FromSql, Kind, Type};
use tokio_postgres::Row;

/// A column's value in PostgreSQL's binary format, whatever its type.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// One row as JSON values; a column of a type the checks cannot read is an error naming it.
pub(crate) fn row_to_json(row: &Row) -> Result<Vec<Value>, String> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let raw: Option<Raw> = row.try_get(i).map_err(|e| format!("column {}: {e}", column.name()))?;
            match raw {
                None => Ok(Value::Null),
                Some(Raw(bytes)) => to_json(column.type_(), bytes).map_err(|e| format!("column {}: {e}", column.name())),
            }
        })
        .collect()
}

type DecodeResult = Result<Value, Box<dyn std::error::Error + Sync + Send>>;

fn to_json(ty: &Type, raw: &[u8]) -> DecodeResult {
    // A domain (information_schema's sql_identifier, say) is sent in its base type's format.
    if let Kind::Domain(base) = ty.kind() {
        return to_json(base, raw);
    }
    let value = match *ty {
        Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
        Type::INT2 => Value::from(i16::from_sql(ty, raw)?),
        Type::INT4 => Value::from(i32::from_sql(ty, raw)?),
        Type::INT8 => Value::from(i64::from_sql(ty, raw)?),
        Type::OID => Value::from(u32::from_sql(ty, raw)?),
        Type::FLOAT4 => float(f64::from(f32::from_sql(ty, raw)?)),
        Type::FLOAT8 => float(f64::from_sql(ty, raw)?),
        Type::NUMERIC => Value::String(numeric_text(raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Value::String(<&str>::from_sql(ty, raw)?.to_string()),
        Type::CHAR => Value::String(char::from(i8::from_sql(ty, raw)? as u8).to_string()),
        _ => return Err(format!("has type {ty}, which the probe does not read (cast it to text)").into()),
    };
    Ok(value)
}

/// NaN and the infinities have no JSON number; they read as PostgreSQL prints them.
fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(
        || {
            Value::String(
                if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
                .into(),
            )
        },
        Value::Number,
    )
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// `numeric`'s binary format as the text PostgreSQL would print: a header of digit count,
/// weight (power of 10000 of the first digit), sign and display scale, then base-10000 digits.
fn numeric_text(raw: &[u8]) -> Result<String, String> {
    let word = |i: usize| raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or("truncated numeric value");
    let count = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = usize::from(word(3)?);
    match sign {
        NUMERIC_NAN => return Ok("NaN".into()),
        NUMERIC_PINF => return Ok("Infinity".into()),
        NUMERIC_NINF => return Ok("-Infinity".into()),
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return Err(format!("numeric value with unknown sign {other:#x}")),
    }
    let digits = (0..count).map(|i| word(4 + i)).collect::<Result<Vec<u16>, _>>()?;
    if digits.iter().any(|&d| d > 9999) {
        return Err("numeric digit out of range".into());
    }
    // Digit `i` stands for 10000^(weight - i); positions outside the stored ones are zeros.
    let digit = |i: i32| usize::try_from(i).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0);
    let mut text = String::new();
    if sign == NUMERIC_NEG {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    }
    for i in 0..=weight {
        let _ = if i == 0 { write!(text, "{}", digit(i)) } else { write!(text, "{:04}", digit(i)) };
    }
    if scale > 0 {
        let mut fraction = String::with_capacity(scale + 4);
        let mut i = weight + 1;
        while fraction.len() < scale {
            let _ = write!(fraction, "{:04}", digit(i));
            i += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for word in [digits.len() as u16, weight as u16, sign, scale].into_iter().chain(digits.iter().copied()) {
            raw.extend_from_slice(&word.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numerics_read_as_postgresql_prints_them() {
        // The values tests/postgres.rs compares with the server's own text output, plus the edges.
        assert_eq!(numeric_text(&encode(1, NUMERIC_POS, 3, &[1, 2345, 6780])).unwrap(), "12345.678");
        assert_eq!(numeric_text(&encode(-1, NUMERIC_POS, 3, &[10])).unwrap(), "0.001");
        assert_eq!(numeric_text(&encode(0, NUMERIC_NEG, 0, &[5])).unwrap(), "-5");
        assert_eq!(numeric_text(&encode(2, NUMERIC_POS, 0, &[1])).unwrap(), "100000000");
        assert_eq!(numeric_text(&encode(0, NUMERIC_POS, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric_text(&encode(0, NUMERIC_NAN, 0, &[])).unwrap(), "NaN");
        assert!(numeric_text(&[0, 1]).is_err());
        assert!(numeric_text(&encode(0, NUMERIC_POS, 0, &[10000])).is_err());
    }
}
