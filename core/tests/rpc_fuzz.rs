//! A short fuzz run of the frame reader and the message decoder (part of `make test`): arbitrary
//! bytes, and valid frames with bytes flipped, cut or appended, must give a message or a typed error,
//! never a panic, a hang or an allocation the length prefix asked for.

use bytes::Bytes;
use omnitron::ErrorCode;
use omnitron::rpc::{Message, PeerInfo, Request, WireError};
use omnitron::transport::FrameReader;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    let msgs = [
        Message::Hello { version: 1, peer: PeerInfo::this_process("f", "rust"), token: Some("t".into()) },
        Message::Request(Request {
            id: 7,
            target: "payment@^1".into(),
            method: "charge".into(),
            args: Bytes::from_static(&[0x92, 0x01, 0x81, 0xa1, b'k', 0xc0]),
            deadline_ms: 5000,
            trace: None,
            stream: false,
        }),
        Message::Error { id: 1, error: WireError { code: "RPC001".into(), message: "m".into(), data: None } },
        Message::Publish {
            topic: "order.created".into(),
            payload: Bytes::from_static(&[0x93, 1, 2, 3]),
            trace: None,
        },
        Message::Register {
            name: "s".into(),
            version: "1.0.0".into(),
            methods: vec!["a".into(), "b".into()],
            streams: vec!["b".into()],
        },
    ];
    msgs.iter()
        .map(|m| {
            let mut out = Vec::new();
            m.encode_body(&mut out);
            out
        })
        .collect()
}

fn decode_any(body: &[u8]) {
    match Message::decode(Bytes::copy_from_slice(body)) {
        Ok(m) => {
            // Whatever decodes re-encodes to something that decodes to the same message.
            let mut again = Vec::new();
            m.encode_body(&mut again);
            assert_eq!(Message::decode(Bytes::from(again)).unwrap(), m);
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::ProtocolError, "{e}"),
    }
}

fn read_frames(stream: Vec<u8>, max: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async move {
        let (mut w, r) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = w.write_all(&stream).await;
        });
        let mut reader = FrameReader::new(Box::pin(r), max);
        loop {
            match reader.next().await {
                Ok(Some(body)) => {
                    assert!(body.len() <= max);
                    decode_any(&body);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(
                        matches!(
                            e.code(),
                            ErrorCode::ProtocolError | ErrorCode::FrameTooLarge | ErrorCode::PeerDisconnected
                        ),
                        "{e}"
                    );
                    break;
                }
            }
        }
        let _ = writer.await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_decode_or_fail_cleanly(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_any(&body);
    }

    #[test]
    fn mutated_messages_decode_or_fail_cleanly(
        which in 0usize..5,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
        extra in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut body = samples()[which].clone();
        for (at, b) in flips {
            let i = at % body.len();
            body[i] = b;
        }
        body.truncate(cut % (body.len() + 1));
        body.extend_from_slice(&extra);
        decode_any(&body);
    }

    #[test]
    fn arbitrary_streams_frame_or_fail_cleanly(stream in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_frames(stream, 64);
    }
}

#[test]
fn a_huge_length_prefix_allocates_nothing() {
    // 4 GiB announced, 4 bytes sent: refused from the prefix.
    read_frames(vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4], 1024);
}
