//! Decoding the contributor payloads: kind 8 (rebalance, with the point weights the app
//! recorded) and kind 9 (point weights).

use super::*;
use dao_core::address::Address;
use dao_core::contributors::PointWeights;
use dao_core::rules::Kind;

fn a(n: u8) -> Address {
    Address([n; 32])
}

fn rebalance_payload(weights: &[(Address, u64)], url: &str) -> Vec<u8> {
    let mut v = vec![0xc0; 20];
    v.extend([0x4a; 32]);
    v.extend(encode_point_weights(&PointWeights::default()));
    v.extend(80u16.to_be_bytes());
    v.extend(((82 + 40 * weights.len()) as u16).to_be_bytes());
    v.extend((weights.len() as u16).to_be_bytes());
    for (m, w) in weights {
        v.extend(m.0);
        v.extend(w.to_be_bytes());
    }
    v.extend((url.len() as u16).to_be_bytes());
    v.extend(url.as_bytes());
    v
}

#[test]
fn rebalance_payloads_decode_strictly() {
    let weights = vec![(a(1), 60), (a(2), 45)];
    let p = decode_payload(Kind::Rebalance, &rebalance_payload(&weights, "u")).unwrap();
    assert_eq!(
        p,
        ProposalPayload::Rebalance {
            commit: [0xc0; 20],
            table_hash: [0x4a; 32],
            points: PointWeights::default(),
            weights: weights.clone(),
            description_url: "u".into()
        }
    );
    // point weights the app would never have recorded
    let mut bad = rebalance_payload(&weights, "u");
    bad[52..76].fill(0);
    assert!(matches!(
        decode_payload(Kind::Rebalance, &bad),
        Err(Problem::InvalidPointWeights(_))
    ));
    // the weights offset must be the head's end, the url offset the array's end
    let mut bad = rebalance_payload(&weights, "u");
    bad[77] = 81;
    assert!(matches!(
        decode_payload(Kind::Rebalance, &bad),
        Err(Problem::Offset {
            field: "weights",
            ..
        })
    ));
    let mut bad = rebalance_payload(&weights, "u");
    bad[79] += 1;
    assert!(matches!(
        decode_payload(Kind::Rebalance, &bad),
        Err(Problem::Offset {
            field: "description_url",
            ..
        })
    ));
    // more entries than the app ever accepts
    let nine: Vec<_> = (0..9).map(|i| (a(i), 1)).collect();
    assert!(matches!(
        decode_payload(Kind::Rebalance, &rebalance_payload(&nine, "u")),
        Err(Problem::TooLong {
            field: "weights",
            ..
        })
    ));
    // a count larger than the bytes present
    let mut short = rebalance_payload(&weights, "");
    short[81] = 3;
    assert!(decode_payload(Kind::Rebalance, &short).is_err());
}

#[test]
fn point_weights_payloads_decode_strictly() {
    let w = PointWeights {
        code: 4,
        comment: 0,
        text: 1,
    };
    let mut v = encode_point_weights(&w);
    v.extend(26u16.to_be_bytes());
    v.extend(1u16.to_be_bytes());
    v.push(b'u');
    assert_eq!(
        decode_payload(Kind::PointWeights, &v).unwrap(),
        ProposalPayload::PointWeights {
            weights: w,
            description_url: "u".into()
        }
    );
    // each class one above the most the app accepts
    for at in [0, 8, 16] {
        let mut bad = v.clone();
        bad[at..at + 8].copy_from_slice(&2001u64.to_be_bytes());
        assert!(matches!(
            decode_payload(Kind::PointWeights, &bad),
            Err(Problem::InvalidPointWeights(_))
        ));
    }
    let mut zero = v.clone();
    zero[..24].fill(0);
    assert!(matches!(
        decode_payload(Kind::PointWeights, &zero),
        Err(Problem::InvalidPointWeights(_))
    ));
    assert!(decode_payload(Kind::PointWeights, &v[..20]).is_err());
}
