//! The on-disk store, on sled 0.34. Format and commit protocol: `docs/storage.md`.
//!
//! In short: events live in packed blocks (`events` tree, key = first seq big-endian, never
//! rewritten); a batch writes new blocks beyond the committed head in chunks, then commits by
//! writing the head marker (`meta` tree) last and flushing. The indexes (`index` tree: one key
//! per account, 4,096 id buckets and an "indexed through" marker) are brought up to the head
//! after the commit, idempotently, so that a crash at any point is repaired on the next open.
//! Readers in this process only see up to the head whose indexes are complete (`visible`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant as Clock};

use chrono::DateTime;
use uuid::Uuid;

use super::memory::{absorbed_other, check_continues, check_links, first_difference};
use super::{
    AccountVisitor, AppendBatch, Head, Progress, SendAccountVisitor, Store, StoreError,
    VerifyReport,
};
use crate::event::{
    format_date, format_instant, Account, Date, Hash, Instant, Sealed, StoredEvent, ZERO_HASH,
};
use crate::line::{hex_equals, LineView};

/// Page cache of a long-lived handle ([`SledStore::open`]: a process that answers many
/// queries). It sizes the hot set of the stream copies, ~150 MB packed at 1 M events, which
/// sled accounts at more than their size: warm in-process `state` p99 ~250 µs at 128 MB
/// (thrashing), ~130 µs at 192 MB, ~90 µs at 256 MB, the process then at ~190 MB resident
/// (`cargo bench --bench ledger`, "warm" rows). A larger store no longer fits and is read from
/// disk more often; its memory stays bounded (5 M events: ~280 MB resident).
const CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Page cache of a handle opened for one command's reading ([`SledStore::open_for_reading`]):
/// a `state` touches one leaf, a `verify` or `report` reads each page once, and neither gains
/// from more. Resident at 1 M events: `report` ~85 MB (~150 MB at 128 MB), `verify` ~190 MB
/// (its tables of hashes and ids, ~40 bytes an event, are most of the rest), each as fast
/// within this machine's noise.
/// This bounds memory only since sled's LRU hears of accesses promptly ([`LRU_BLOCK`]);
/// before, a scan kept every page it read.
const READ_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Page cache of a handle opened for one bulk append ([`SledStore::open_for_appending`]).
/// Importing 1 M events: peak RSS ~290-315 MB at 64 MB, ~277 MB at 48 MB at the same speed
/// within this machine's noise, ~276 MB at 32 MB but ~12 % slower.
const APPEND_CACHE_BYTES: u64 = 48 * 1024 * 1024;
/// Page accesses each of sled's 256 LRU shards queues before it accounts them (our patch;
/// upstream 64, which let a scan of a 1 M store keep every page it read: `verify` ~310 MB).
/// Reading handles and the long-lived one (which also appends, in small batches) use it; the
/// `append` command's handle keeps upstream's: at 8 its memory was a little lower
/// (~260 against ~277 MB at 1 M), but the bench's floor, sled with one small value per event,
/// went from ~0.7 to ~1.8 GB and scanned half as fast at 8: eviction inside its batches of
/// 10,000 (with batches of 1,000 the two differ little), which hold what they replace until
/// they end. The `append` command writes as sled was tested.
const LRU_BLOCK: usize = 8;
const UPSTREAM_LRU_BLOCK: usize = 64;
/// Most events in one block (one sled value).
const BLOCK_MAX_EVENTS: usize = 1000;
/// A block is closed once its lines reach this size (unpacked). sled stores a tree node
/// larger than 128 KiB (segment / 4) as a separate, never-fsynced blob file, and a leaf holds
/// up to 16 values; small values keep every node in the log (durable by `flush`) and cheap to
/// read. Packed, 24 KiB of lines take about 6 KiB; a block whose packed value exceeds
/// `BLOCK_PACKED_MAX` (7 KiB: lines that pack badly) is split in two until it fits.
const BLOCK_TARGET_BYTES: usize = 24 * 1024;
/// A large batch goes to sled every this many events, so it never sits whole in memory. Small
/// sled batches matter: sled keeps every node version a batch replaces until the batch ends
/// (measured at 1 M events: 10,000 per batch peaked at 390 MB RSS, 1,000 at 210 MB).
const CHUNK_EVENTS: usize = 1000;
/// An index update is split into sled batches of about this many bytes (small, for the same
/// reason as CHUNK_EVENTS: 8 MB batches added 400 MB RSS at 1 M events).
const INDEX_BATCH_BYTES: usize = 256 * 1024;
/// Longest stored line accepted (valid events are a few hundred bytes).
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Default bounded wait for a store held by another process.
const DEFAULT_LOCK_WAIT_MS: u64 = 10_000;
/// sled's background flush period for writing handles (its default).
const FLUSH_EVERY_MS: u64 = 500;
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Format 4 packs the stream copies with LZ4; format 3 keeps their lines in the copy form
/// (less their hashes, `line.rs`); format 2 added packed blocks (zstd) to format 1.
const FORMAT: &[u8] = b"partner-ledger/4";
/// Earlier formats this program reads as they are, and re-marks: 1 held only unpacked blocks,
/// 2 kept the copies' lines with their hashes, 3 packed the copies with zstd.
const FORMATS_READ: [&[u8]; 3] = [
    b"partner-ledger/1",
    b"partner-ledger/2",
    b"partner-ledger/3",
];
const BLOCK_FORMAT: u8 = 1;
const PACKED_FORMAT: u8 = 2;
const LZ4_FORMAT: u8 = 3;
/// zstd level of packed blocks: level 1 packs these lines about as well as 3, faster.
const PACK_LEVEL: i32 = 1;
/// A packed block above this is split in two (see `BLOCK_TARGET_BYTES`).
const BLOCK_PACKED_MAX: usize = 7 * 1024;
/// No block unpacks to more than this (a block holds ≤ 1,000 lines of ≤ 64 KiB, and closes
/// at `BLOCK_TARGET_BYTES`; a stream chunk at `STREAM_CHUNK_BYTES`): a damaged frame claiming
/// more is refused instead of allocated.
const MAX_UNPACKED_BYTES: usize = 1024 * 1024;
/// Blocks of an append already written beyond the head that it keeps unpacked for re-reads.
const UNPACKED_CACHE_BLOCKS: usize = 64;
const KEY_HEAD: &[u8] = b"head";
const KEY_FORMAT: &[u8] = b"format";
/// In the `index` tree, next to the data it describes, so that both change in one batch.
const KEY_INDEXED_THROUGH: &[u8] = b"m";
const ACCOUNT_PREFIX: u8 = b'a';
/// The per-account stream copies: key = account ‖ 0x00 ‖ chunk number (u32 big-endian),
/// value = last seq in the chunk (u64 big-endian) ‖ a block of the account's lines.
const STREAMS_TREE: &str = "streams";
/// Lines per stream chunk, and the size at which a chunk is closed: only the last chunk of an
/// account is ever rewritten, and it stays small.
const STREAM_CHUNK_EVENTS: usize = 64;
const STREAM_CHUNK_BYTES: usize = 16 * 1024;
/// Lines an append holds in memory for the stream copies; beyond this they are spilled to
/// `STREAM_SPILL_PARTS` scratch files (by ranges of account names) in the store directory.
const STREAM_PENDING_BYTES: usize = 24 * 1024 * 1024;
const STREAM_SPILL_PARTS: u64 = 64;
/// The scratch directory of an append's stream spill, inside the store directory; an
/// interrupted append leaves it behind and the next writer removes it.
const STREAM_SPILL_DIR: &str = "partner-ledger-spill";
/// sled holds written pages in memory until they are flushed: a large rewrite of the stream
/// copies is flushed every this many bytes to keep the process small.
const STREAM_FLUSH_BYTES: usize = 8 * 1024 * 1024;
const BUCKET_PREFIX: u8 = b'i';
/// An append of at least this many events has sled record its snapshot before it ends
/// (`SledStore::close_appended`); below it the next open's replay costs a few milliseconds,
/// about what opening once more would.
const SNAPSHOT_AFTER_EVENTS: u64 = 20_000;
/// Account-list entries with this bit set are `accounts_merged` events absorbing the account.
const MERGE_FLAG: u64 = 1 << 63;
/// An id-index entry: 16-byte uuid, then the seq big-endian; sorts by uuid.
const ID_ENTRY: usize = 24;

/// Called with (seq, stored line); returns whether to go on.
type LineVisitor<'a> = &'a mut dyn FnMut(u64, &[u8]) -> Result<bool, StoreError>;

mod fingerprint;
mod verify;

/// Escape hatch for tests that play the attacker with write access to the files.
#[doc(hidden)]
pub mod raw {
    /// Name of the sled tree holding the event blocks.
    pub const EVENTS_TREE: &str = "events";

    /// The stored lines of a block, or None when it does not decode.
    pub fn decode_block(value: &[u8]) -> Option<Vec<Vec<u8>>> {
        let block = super::Block::decode(value).ok()?;
        (0..block.len())
            .map(|i| block.line(i).map(<[u8]>::to_vec))
            .collect()
    }

    /// A block value holding these lines, unpacked.
    pub fn encode_block(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut b = super::BlockBuilder::default();
        for l in lines {
            b.push(0, l);
        }
        b.take().map(|(_, v)| v).unwrap_or_default()
    }

    /// A block value holding these lines packed with zstd, as formats 2 and 3 packed the
    /// stream copies (and every format the log).
    pub fn encode_zstd_block(lines: &[Vec<u8>]) -> Vec<u8> {
        super::pack(encode_block(lines), super::Packing::Log)
    }

    /// The first byte of a block value: how it is packed.
    pub const UNPACKED: u8 = super::BLOCK_FORMAT;
    pub const PACKED_ZSTD: u8 = super::PACKED_FORMAT;
    pub const PACKED_LZ4: u8 = super::LZ4_FORMAT;
}

// ------------------------------------------------------------------------------------------------
// Encodings

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn read_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// A block: `[format u8 = 1][count u32][count × end offset u32][lines…]`, all big-endian. The
/// offset table finds the n-th line without scanning. A *packed* block is `[format u8 = 2]`
/// followed by a zstd frame of such a block (about a quarter of its size: log blocks), or
/// `[format u8 = 3][unpacked size u32]` followed by an LZ4 block of it (stream copies); readers
/// take all three.
struct Block<'a> {
    raw: Cow<'a, [u8]>,
    count: usize,
    table_end: usize,
}

impl<'a> Block<'a> {
    fn decode(value: &'a [u8]) -> Result<Block<'a>, String> {
        let raw = match value.first() {
            Some(&PACKED_FORMAT) => Cow::Owned(unpack(&value[1..])?),
            Some(&LZ4_FORMAT) => Cow::Owned(unpack_lz4(&value[1..])?),
            _ => Cow::Borrowed(value),
        };
        Block::parse(raw)
    }

    /// As [`Block::decode`], unpacking an LZ4 block into `spare` (its allocation kept from one
    /// block to the next) rather than into a fresh buffer. For a thread that reads many: each
    /// fresh 16 KiB buffer took its malloc arena's lock, which another thread freeing sled's
    /// pages into that arena held often enough to put both to sleep.
    fn decode_reusing(value: &'a [u8], spare: &'a mut Vec<u8>) -> Result<Block<'a>, String> {
        match value.first() {
            Some(&LZ4_FORMAT) => {
                unpack_lz4_into(&value[1..], spare)?;
                Block::parse(Cow::Borrowed(spare.as_slice()))
            }
            _ => Block::decode(value),
        }
    }

    /// An unpacked block: its header and offset table checked against its length.
    fn parse(raw: Cow<'a, [u8]>) -> Result<Block<'a>, String> {
        let (Some(&BLOCK_FORMAT), Some(count)) = (raw.first(), raw.get(1..5).and_then(read_u32))
        else {
            return Err("block header is damaged".into());
        };
        let table_end = (count as usize)
            .checked_mul(4)
            .and_then(|n| n.checked_add(5));
        let Some(table_end) = table_end.filter(|&e| e <= raw.len() && count > 0) else {
            return Err("block offset table is damaged".into());
        };
        let block = Block {
            raw,
            count: count as usize,
            table_end,
        };
        let last = block.end(block.len() - 1);
        if last != Some(block.data().len()) {
            return Err("block length does not match its offset table".into());
        }
        Ok(block)
    }

    fn into_owned(self) -> Block<'static> {
        Block {
            raw: Cow::Owned(self.raw.into_owned()),
            count: self.count,
            table_end: self.table_end,
        }
    }

    fn data(&self) -> &[u8] {
        &self.raw[self.table_end..]
    }

    fn len(&self) -> usize {
        self.count
    }

    fn end(&self, i: usize) -> Option<usize> {
        let at = 5 + i.checked_mul(4)?;
        if at >= self.table_end {
            return None;
        }
        read_u32(self.raw.get(at..at + 4)?).map(|e| e as usize)
    }

    fn line(&self, i: usize) -> Option<&[u8]> {
        let start = if i == 0 { 0 } else { self.end(i - 1)? };
        self.data().get(start..self.end(i)?)
    }
}

thread_local! {
    static PACKER: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static UNPACKER: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// What a packed block holds, which decides how it is packed.
#[derive(Clone, Copy)]
enum Packing {
    /// Log blocks: zstd, whose Huffman-coded literals pack the hashes' hex to half (LZ4
    /// leaves them as they are: 176 against 100 MB of packed log at 1 M events).
    Log,
    /// Stream copies, read by every query and by `verify`: LZ4. In the copy form (no hashes)
    /// it packs 16 % larger than zstd without Huffman-coded literals (111 against 96 MB at
    /// 1 M events), unpacks 1.8 × and packs 1.6 × as fast; `verify` took 13 % less time.
    Copy,
}

/// A block value, packed when that makes it smaller (it nearly always does: stored lines
/// repeat their keys, names and types).
fn pack(raw: Vec<u8>, packing: Packing) -> Vec<u8> {
    if let Packing::Copy = packing {
        let frame = lz4_flex::block::compress(&raw);
        if frame.len() + 5 >= raw.len() {
            return raw;
        }
        let mut v = Vec::with_capacity(frame.len() + 5);
        v.push(LZ4_FORMAT);
        v.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        v.extend_from_slice(&frame);
        return v;
    }
    let packed = PACKER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(PACK_LEVEL).ok();
        }
        cell.as_mut().and_then(|c| c.compress(&raw).ok())
    });
    match packed {
        Some(frame) if frame.len() + 1 < raw.len() => {
            let mut v = Vec::with_capacity(frame.len() + 1);
            v.push(PACKED_FORMAT);
            v.extend_from_slice(&frame);
            v
        }
        _ => raw,
    }
}

/// An LZ4-packed block: its stated size (within the limit), then the LZ4 block of it.
fn unpack_lz4(frame: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    unpack_lz4_into(frame, &mut out)?;
    Ok(out)
}

/// [`unpack_lz4`] into `out` (what it held is replaced).
fn unpack_lz4_into(frame: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let size = frame.get(..4).and_then(read_u32).map(|n| n as usize);
    let size = size.filter(|&n| n <= MAX_UNPACKED_BYTES);
    let (Some(size), Some(block)) = (size, frame.get(4..)) else {
        return Err("packed block has no valid size".into());
    };
    out.clear();
    out.resize(size, 0);
    let n = lz4_flex::block::decompress_into(block, out)
        .map_err(|e| format!("packed block does not unpack: {e}"))?;
    if n != size {
        return Err("packed block unpacks to another size than it states".into());
    }
    Ok(())
}

fn unpack(frame: &[u8]) -> Result<Vec<u8>, String> {
    // Frames written by `pack` state their size: allocate exactly that (a 1 MiB buffer per
    // read, the size limit, cost a fresh mapping per block). A size above the limit, or a
    // frame that decodes to another size, is damage.
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_UNPACKED_BYTES as u64 => n as usize,
        _ => return Err("packed block has no valid size".into()),
    };
    let mut out = Vec::with_capacity(size);
    UNPACKER
        .with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = zstd::bulk::Decompressor::new().ok();
            }
            match cell.as_mut() {
                Some(d) => d.decompress_to_buffer(frame, &mut out),
                None => Err(std::io::Error::other("no decompressor")),
            }
        })
        .map_err(|e| format!("packed block does not unpack: {e}"))?;
    if out.len() != size {
        return Err("packed block unpacks to another size than it states".into());
    }
    Ok(out)
}

#[derive(Default)]
struct BlockBuilder {
    first: u64,
    ends: Vec<u32>,
    data: Vec<u8>,
}

/// An unpacked block of the lines whose ends (offsets into `data`, relative to `base`) are given.
fn raw_block(ends: &[u32], data: &[u8], base: u32) -> Vec<u8> {
    let start = base as usize;
    let stop = ends.last().map_or(start, |&e| e as usize);
    let mut v = Vec::with_capacity(5 + 4 * ends.len() + (stop - start));
    v.push(BLOCK_FORMAT);
    v.extend_from_slice(&(ends.len() as u32).to_be_bytes());
    for e in ends {
        v.extend_from_slice(&(e - base).to_be_bytes());
    }
    v.extend_from_slice(data.get(start..stop).unwrap_or_default());
    v
}

/// Packs the lines `ends` (offsets into `data`, relative to `base`) as one block value or,
/// where that would exceed `BLOCK_PACKED_MAX` (lines that pack badly), as consecutive parts split
/// in halves until each fits (a single line stays whole): (lines in the part, packed value).
fn pack_parts(
    ends: &[u32],
    data: &[u8],
    base: u32,
    packing: Packing,
    out: &mut Vec<(usize, Vec<u8>)>,
) {
    if ends.is_empty() {
        return;
    }
    let packed = pack(raw_block(ends, data, base), packing);
    if packed.len() <= BLOCK_PACKED_MAX || ends.len() == 1 {
        out.push((ends.len(), packed));
        return;
    }
    let half = ends.len() / 2;
    pack_parts(&ends[..half], data, base, packing, out);
    pack_parts(&ends[half..], data, ends[half - 1], packing, out);
}

/// A log block packed, as consecutive blocks (first seq, value) where it packs too large.
fn pack_split(first: u64, ends: &[u32], data: &[u8], base: u32, out: &mut Vec<(u64, Vec<u8>)>) {
    let mut parts = Vec::new();
    pack_parts(ends, data, base, Packing::Log, &mut parts);
    let mut seq = first;
    for (lines, packed) in parts {
        out.push((seq, packed));
        seq += lines as u64;
    }
}

impl BlockBuilder {
    fn push(&mut self, seq: u64, line: &[u8]) {
        if self.ends.is_empty() {
            self.first = seq;
        }
        self.data.extend_from_slice(line);
        // Lines are at most MAX_LINE_BYTES and blocks at most BLOCK_MAX_EVENTS lines: fits u32.
        self.ends.push(self.data.len() as u32);
    }

    /// The line of `seq` if it is in this open block.
    fn line_of(&self, seq: u64) -> Option<&[u8]> {
        self.line(usize::try_from(seq.checked_sub(self.first)?).ok()?)
    }

    /// The `i`-th line of this open block.
    fn line(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 {
            0
        } else {
            *self.ends.get(i - 1)? as usize
        };
        self.data.get(start..end)
    }

    fn is_full(&self) -> bool {
        self.ends.len() >= BLOCK_MAX_EVENTS || self.data.len() >= BLOCK_TARGET_BYTES
    }

    /// The finished block (key seq, unpacked value), leaving the builder empty.
    fn take(&mut self) -> Option<(u64, Vec<u8>)> {
        if self.ends.is_empty() {
            return None;
        }
        let v = raw_block(&self.ends, &self.data, 0);
        self.ends.clear();
        self.data.clear();
        Some((self.first, v))
    }
}

/// The finished blocks of a chunk packed, each split into consecutive blocks where one packed
/// value would exceed `BLOCK_PACKED_MAX` (so every sled node stays inline in the log).
fn pack_chunk(chunk: &[BlockBuilder]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for b in chunk {
        pack_split(b.first, &b.ends, &b.data, 0, &mut out);
    }
    out
}

/// Head record: seq, hash, then 1 flag byte and recorded_at in microseconds since the epoch.
fn encode_head(head: &Head) -> Vec<u8> {
    let mut v = Vec::with_capacity(49);
    v.extend_from_slice(&head.seq.to_be_bytes());
    v.extend_from_slice(&head.hash);
    match head.recorded_at {
        Some(t) => {
            v.push(1);
            v.extend_from_slice(&t.timestamp_micros().to_be_bytes());
        }
        None => v.extend_from_slice(&[0; 9]),
    }
    v
}

fn decode_head(v: &[u8]) -> Option<Head> {
    if v.len() != 49 {
        return None;
    }
    let seq = read_u64(&v[0..8])?;
    let hash: Hash = v[8..40].try_into().ok()?;
    let micros = i64::from_be_bytes(v[41..49].try_into().ok()?);
    let recorded_at = match v[40] {
        0 => None,
        1 => Some(DateTime::from_timestamp_micros(micros)?),
        _ => return None,
    };
    Some(Head {
        seq,
        hash,
        recorded_at,
    })
}

fn stream_prefix(account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + 1);
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k
}

fn stream_key(prefix: &[u8], number: u32) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&number.to_be_bytes());
    k
}

/// A stored line in the copy form, as a stream chunk keeps it: less its two hash members
/// (`line.rs`). A line not in the stored form is kept as it is: a copy line read back from a
/// chunk being extended is already in the copy form. A sealed event brings its copy form with
/// it (`Sealed`); the lines recovery reads from the log are stripped here.
fn copy_form(line: &[u8]) -> Cow<'_, [u8]> {
    match LineView::parse(line) {
        Some(view) => Cow::Owned(view.body_parts().concat()),
        None => Cow::Borrowed(line),
    }
}

/// Adds the values of a stream chunk's lines to `out`, numbered from `*number` (left at the
/// last number used), and empties `chunk`: each value is the last seq of its lines ‖ their block
/// packed. A chunk that packs to more than `BLOCK_PACKED_MAX` (lines that pack badly) is split
/// into consecutive chunks as a log block is, so that a leaf of them stays inline in sled's log.
fn stream_values(
    prefix: &[u8],
    number: &mut u32,
    last_seq: u64,
    chunk: &mut BlockBuilder,
    out: &mut Vec<KeyValue>,
) {
    if chunk.ends.is_empty() {
        return;
    }
    let mut parts = Vec::new();
    pack_parts(&chunk.ends, &chunk.data, 0, Packing::Copy, &mut parts);
    // Each part's last seq, read from its last line (the chunk's own for the last part).
    let mut end = 0;
    let last_seqs: Option<Vec<u64>> = parts
        .iter()
        .enumerate()
        .map(|(i, (lines, _))| {
            end += lines;
            if i + 1 == parts.len() {
                return Some(last_seq);
            }
            let line = chunk.line(end - 1)?;
            LineView::parse_copy(line).map(|view| view.seq)
        })
        .collect();
    let values = match last_seqs {
        Some(seqs) => seqs
            .into_iter()
            .zip(parts.into_iter().map(|(_, p)| p))
            .collect(),
        // A line that does not read (never one the store wrote): the chunk whole.
        None => {
            let all = raw_block(&chunk.ends, &chunk.data, 0);
            vec![(last_seq, pack(all, Packing::Copy))]
        }
    };
    for (i, (seq, block)) in values.into_iter().enumerate() {
        if i > 0 {
            *number += 1;
        }
        let mut v = Vec::with_capacity(8 + block.len());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&block);
        out.push((stream_key(prefix, *number), v));
    }
    chunk.ends.clear();
    chunk.data.clear();
}

fn account_key(account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + account.len());
    k.push(ACCOUNT_PREFIX);
    k.extend_from_slice(account.as_bytes());
    k
}

/// 4,096 id buckets by the first 12 bits of the uuid: ~250 entries (6 KB) each at 1 M events,
/// so a batch rewrites few small values and a lookup reads one.
fn bucket_key(uuid: &[u8]) -> [u8; 3] {
    let b = (u16::from(uuid[0]) << 4) | u16::from(uuid[1] >> 4);
    let [hi, lo] = b.to_be_bytes();
    [BUCKET_PREFIX, hi, lo]
}

fn id_entry(id: &Uuid, seq: u64) -> [u8; ID_ENTRY] {
    let mut e = [0u8; ID_ENTRY];
    e[..16].copy_from_slice(id.as_bytes());
    e[16..].copy_from_slice(&seq.to_be_bytes());
    e
}

/// What a stored line at `seq` must be, as `verify` and `log` check it: it reads as a stored
/// line, carries its seq, links to `prev_hex` (the hash of the line before as hex, when known:
/// the text of that line's own `hash`, once it has passed) and hashes to its stored hash. The
/// hash covers the exact stored bytes (less the two hash members), so a line that passes is
/// byte for byte the line that was sealed. Returns its envelope and hash, or what is wrong.
fn sealed_line<'a>(
    seq: u64,
    line: &'a [u8],
    prev_hex: Option<&[u8; 64]>,
) -> Result<(LineView<'a>, Hash), String> {
    let view = LineView::parse(line).ok_or("stored line does not have the stored form")?;
    if view.seq != seq {
        return Err(format!("holds seq {} instead", view.seq));
    }
    if prev_hex.is_some_and(|p| p.as_slice() != view.prev_hash_hex) {
        return Err("prev_hash does not link to the previous event".into());
    }
    let hash = view.body_hash();
    if !hex_equals(&hash, view.hash_hex) {
        return Err("hash does not match the event's content".into());
    }
    Ok((view, hash))
}

/// Binary search of a sorted bucket for a uuid; the seq stored for it.
fn bucket_lookup(bucket: &[u8], uuid: &[u8]) -> Option<u64> {
    let n = bucket.len() / ID_ENTRY;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let e = &bucket[mid * ID_ENTRY..(mid + 1) * ID_ENTRY];
        match e[..16].cmp(uuid) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return read_u64(&e[16..]),
        }
    }
    None
}

/// Merges sorted id entries into a sorted bucket. Entries already present are skipped (redoing
/// an index update is harmless); the same uuid with another seq is an error naming that seq.
fn merge_bucket(old: &[u8], new: &[[u8; ID_ENTRY]]) -> Result<Vec<u8>, u64> {
    let mut out = Vec::with_capacity(old.len() + new.len() * ID_ENTRY);
    let mut olds = old.chunks_exact(ID_ENTRY).peekable();
    for n in new {
        while let Some(o) = olds.next_if(|o| o[..16] < n[..16]) {
            out.extend_from_slice(o);
        }
        match olds.peek() {
            Some(o) if o[..16] == n[..16] => {
                if o[16..] != n[16..] {
                    return Err(read_u64(&n[16..]).unwrap_or(0));
                }
            }
            _ => out.extend_from_slice(n),
        }
    }
    olds.for_each(|o| out.extend_from_slice(o));
    Ok(out)
}

fn decode_entries(v: &[u8]) -> impl Iterator<Item = u64> + '_ {
    v.chunks_exact(8).filter_map(read_u64)
}

/// Merges account-list entries (sorted by seq, flag ignored), skipping ones already there.
fn merge_account_list(old: &[u8], new: &[u64]) -> Vec<u8> {
    let last_old = old.len().checked_sub(8).and_then(|i| read_u64(&old[i..]));
    let mut out = Vec::with_capacity(old.len() + 8 * new.len());
    let first_new = new.first().map(|e| e & !MERGE_FLAG);
    if last_old.is_none_or(|l| Some(l & !MERGE_FLAG) < first_new) {
        // The usual case: the new seqs all follow the stored ones.
        out.extend_from_slice(old);
        new.iter()
            .for_each(|e| out.extend_from_slice(&e.to_be_bytes()));
        return out;
    }
    let mut all: Vec<u64> = decode_entries(old).chain(new.iter().copied()).collect();
    all.sort_by_key(|e| e & !MERGE_FLAG);
    all.dedup_by_key(|e| *e & !MERGE_FLAG);
    all.iter()
        .for_each(|e| out.extend_from_slice(&e.to_be_bytes()));
    out
}

// ------------------------------------------------------------------------------------------------
// The store

/// The sled-backed store. One per directory and process; see the module doc.
pub struct SledStore {
    path: String,
    /// The store directory (scratch files of a large append live under it).
    dir: PathBuf,
    /// Bytes of stream lines an append keeps in memory before spilling (`STREAM_PENDING_BYTES`;
    /// tests lower it to exercise the spill path).
    spill_bytes: AtomicUsize,
    db: sled::Db,
    events: sled::Tree,
    meta: sled::Tree,
    index: sled::Tree,
    /// Per-account copies of the stored lines (an index: derived from `events`, checked by
    /// `verify`), so that reading an account is one or two sled values, not a block per event.
    streams: sled::Tree,
    /// Held by the open batch: appends are serialised.
    writer: Mutex<()>,
    /// The head readers see: committed *and* indexed.
    visible: RwLock<Head>,
    access: Access,
}

/// What a handle is for: queries only, queries and appends, or one bulk append.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    ReadWrite,
    Append,
}

/// How long to wait for another process holding the store (`PARTNER_LEDGER_LOCK_WAIT_MS`).
fn lock_wait() -> Duration {
    let ms = std::env::var("PARTNER_LEDGER_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_LOCK_WAIT_MS);
    Duration::from_millis(ms)
}

impl SledStore {
    /// Opens the store at `path`, creating it on first use. If another process holds it, waits
    /// up to `PARTNER_LEDGER_LOCK_WAIT_MS` (default 10 s) before giving up with `Locked`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_lock_wait(path, lock_wait())
    }

    /// [`SledStore::open`] with an explicit bound on the wait for another holder.
    pub fn open_with_lock_wait(path: &Path, wait: Duration) -> Result<SledStore, StoreError> {
        SledStore::open_as(path, wait, Access::ReadWrite)
    }

    /// Opens the store for queries only: no background flusher (which would also start
    /// rewriting sled segments while a query runs) and no appends (`begin` refuses). Over a
    /// settled store sled defers the zeroing its open does for writers (`vendor/sled/PATCHES.md`),
    /// so the handle writes nothing; recovery of an interrupted append still runs and is flushed
    /// as in [`SledStore::open`]. End such a handle with [`SledStore::close_reading`] when the
    /// process is about to exit.
    pub fn open_for_reading(path: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_as(path, lock_wait(), Access::Read)
    }

    /// Opens the store for one bulk append (the `append` command): as [`SledStore::open`],
    /// with a page cache sized for it. An append reads each account's copy once, when it is
    /// first touched, and writes the rest; sled keeps resident about as much as its cache
    /// allows of what it writes, so a smaller cache is a smaller import (1 M events: peak RSS
    /// ~390 -> ~350 MB at the same speed) where a process answering many queries wants the
    /// larger one.
    pub fn open_for_appending(path: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_as(path, lock_wait(), Access::Append)
    }

    /// Ends a handle opened for reading without sled's shutdown flush (an fsync per tree,
    /// about 8 ms of a 20 ms query process at 1 M events). Nothing was written through it:
    /// ending here is the same as the process being killed, which the store recovers from (the
    /// crash campaign kills appends, a harder case). The handle's memory is left to the
    /// process's exit, so call this only there; a handle opened for writing is dropped
    /// normally.
    pub fn close_reading(self) {
        match self.access {
            Access::Read => std::mem::forget(self),
            Access::ReadWrite | Access::Append => drop(self),
        }
    }

    /// Ends an append's handle. After an append of `appended` events, from
    /// `SNAPSHOT_AFTER_EVENTS` on, it then opens the store once more for reading, and lets go:
    /// sled records where its pages are (its snapshot) only when it opens, by replaying its log
    /// from the last such record. Without this, the first command after a large import replays
    /// all that the import wrote (at 1 M events ~0.1 s of CPU and the whole 450 MB file read,
    /// ~15 % of that `verify`); the append pays it instead, once. Best effort: the events are
    /// already durable, so a failure here (or another process holding the store, which then
    /// does it itself) changes nothing.
    pub fn close_appended(self, appended: u64) {
        let path = self.dir.clone();
        drop(self);
        if appended >= SNAPSHOT_AFTER_EVENTS {
            if let Ok(store) = SledStore::open_as(&path, Duration::ZERO, Access::Read) {
                store.close_reading();
            }
        }
    }

    fn open_as(path: &Path, wait: Duration, access: Access) -> Result<SledStore, StoreError> {
        if access == Access::Read {
            // sled's open also prepares its file for writing: it zeroes the tail of the
            // segment it recovered and, on every open, every free segment (up to 31 of them,
            // 16 MB, on one 1 M-event store: most of a `state` process). Deferred, that waits
            // for a first write to the log, which a reader of a settled store never makes
            // (vendor/sled/PATCHES.md). A store that needs recovery, or is new, is opened
            // again the usual way, since then this handle writes.
            let db = open_db(path, wait, access, Recovery::Deferred)?;
            if has_trees(&db) {
                let store = SledStore::assemble(db, path, access)?;
                if store.is_settled().unwrap_or(false) {
                    store.settle()?;
                    return Ok(store);
                }
            }
        }
        let store =
            SledStore::assemble(open_db(path, wait, access, Recovery::Done)?, path, access)?;
        store.settle()?;
        Ok(store)
    }

    /// The store over an open sled database (its trees opened, created if new).
    fn assemble(db: sled::Db, path: &Path, access: Access) -> Result<SledStore, StoreError> {
        let shown = path.display().to_string();
        let engine = |e: sled::Error| engine_error(&shown, e);
        Ok(SledStore {
            events: db.open_tree(raw::EVENTS_TREE).map_err(engine)?,
            meta: db.open_tree("meta").map_err(engine)?,
            index: db.open_tree("index").map_err(engine)?,
            streams: db.open_tree(STREAMS_TREE).map_err(engine)?,
            db,
            path: shown,
            dir: path.to_path_buf(),
            spill_bytes: AtomicUsize::new(STREAM_PENDING_BYTES),
            writer: Mutex::new(()),
            visible: RwLock::new(Head::EMPTY),
            access,
        })
    }

    /// Brings a freshly assembled store to a clean committed state: its format checked (and
    /// marked on a new store), an interrupted append's scratch files removed (we hold the
    /// lock), recovered.
    fn settle(&self) -> Result<(), StoreError> {
        self.check_format()?;
        let _ = std::fs::remove_dir_all(self.dir.join(STREAM_SPILL_DIR));
        self.recover()?;
        Ok(())
    }

    /// Whether [`SledStore::settle`] has nothing to write: the format marker is this program's,
    /// no block lies beyond the committed head and the indexes reach it (`recover`'s own
    /// tests).
    fn is_settled(&self) -> Result<bool, StoreError> {
        let format = self.meta.get(KEY_FORMAT).map_err(|e| self.engine(e))?;
        if format.as_deref() != Some(FORMAT) {
            return Ok(false);
        }
        let head = self.disk_head()?;
        let through = self.indexed_through()?;
        Ok(!self.has_blocks_beyond(head.seq)?
            && through >= head.seq
            && !self.streams_to_derive(through))
    }

    /// Lowers the bytes an append holds for the stream copies before spilling them to
    /// scratch files, so that tests exercise the spill path with small appends.
    #[doc(hidden)]
    pub fn set_stream_spill_bytes(&self, bytes: usize) {
        self.spill_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The sled database underneath, for tests that tamper with stored values.
    #[doc(hidden)]
    pub fn raw_db(&self) -> &sled::Db {
        &self.db
    }

    fn engine(&self, e: sled::Error) -> StoreError {
        engine_error(&self.path, e)
    }

    fn spill_error(&self, e: std::io::Error) -> StoreError {
        StoreError::Engine {
            path: self.path.clone(),
            message: format!("writing the stream copies' scratch files failed: {e}"),
        }
    }

    fn corrupt(&self, seq: u64, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            seq,
            message: message.into(),
        }
    }

    fn visible_head(&self) -> Head {
        *self.visible.read().unwrap_or_else(|p| p.into_inner())
    }

    fn check_format(&self) -> Result<(), StoreError> {
        match self.meta.get(KEY_FORMAT).map_err(|e| self.engine(e))? {
            Some(f) if f.as_ref() == FORMAT => Ok(()),
            Some(f) if FORMATS_READ.contains(&f.as_ref()) => {
                // Read as they are (unpacked blocks, copy lines with hashes). Mark the store so
                // that a program that cannot read packed blocks or the copy form refuses it.
                self.meta
                    .insert(KEY_FORMAT, FORMAT)
                    .map_err(|e| self.engine(e))?;
                self.db.flush().map_err(|e| self.engine(e))?;
                Ok(())
            }
            Some(f) => Err(StoreError::Engine {
                path: self.path.clone(),
                message: format!(
                    "unknown store format {:?} (this program reads {:?})",
                    String::from_utf8_lossy(&f),
                    String::from_utf8_lossy(FORMAT)
                ),
            }),
            None if self.events.is_empty() && self.meta.is_empty() => {
                self.meta
                    .insert(KEY_FORMAT, FORMAT)
                    .map_err(|e| self.engine(e))?;
                Ok(())
            }
            None => Err(StoreError::Engine {
                path: self.path.clone(),
                message: "holds data but no format marker: not a partner-ledger store".into(),
            }),
        }
    }

    /// The committed head as written on disk (the commit point).
    fn disk_head(&self) -> Result<Head, StoreError> {
        match self.meta.get(KEY_HEAD).map_err(|e| self.engine(e))? {
            None => Ok(Head::EMPTY),
            Some(v) => {
                decode_head(&v).ok_or_else(|| self.corrupt(0, "head marker does not decode"))
            }
        }
    }

    fn indexed_through(&self) -> Result<u64, StoreError> {
        match self
            .index
            .get(KEY_INDEXED_THROUGH)
            .map_err(|e| self.engine(e))?
        {
            None => Ok(0),
            Some(v) => read_u64(&v).ok_or_else(|| self.corrupt(0, "index marker does not decode")),
        }
    }

    /// Brings the store to a clean committed state: drops blocks of an uncommitted batch,
    /// finishes an interrupted index update, and publishes the head to readers.
    fn recover(&self) -> Result<Head, StoreError> {
        let head = self.disk_head()?;
        let removed = self.remove_beyond(head.seq)?;
        let through_before = self.indexed_through()?;
        let derived = self.streams_to_derive(through_before);
        if derived {
            // A store written before the stream copies existed: derive them once.
            self.append_streams(1, through_before)?;
        }
        let through = self.indexed_through()?;
        if through < head.seq {
            self.reindex(through + 1, head.seq)?;
        }
        // Whatever recovery wrote is made durable here: a handle opened for reading has no
        // background flusher and is ended without sled's shutdown flush.
        if removed || derived || through < head.seq {
            self.db.flush().map_err(|e| self.engine(e))?;
        }
        *self.visible.write().unwrap_or_else(|p| p.into_inner()) = head;
        Ok(head)
    }

    /// A store written before the stream copies existed: they are derived once, on open.
    fn streams_to_derive(&self, indexed_through: u64) -> bool {
        self.streams.is_empty() && indexed_through > 0
    }

    /// Whether a block starts after `seq` (a leftover of a batch that never committed).
    fn has_blocks_beyond(&self, seq: u64) -> Result<bool, StoreError> {
        match self.events.range(seq_key(seq.saturating_add(1))..).next() {
            Some(kv) => kv.map(|_| true).map_err(|e| self.engine(e)),
            None => Ok(false),
        }
    }

    /// Removes every block starting after `seq` (leftovers of a batch that never committed).
    fn remove_beyond(&self, seq: u64) -> Result<bool, StoreError> {
        let mut batch = sled::Batch::default();
        let mut any = false;
        for key in self.events.range(seq_key(seq.saturating_add(1))..).keys() {
            batch.remove(key.map_err(|e| self.engine(e))?);
            any = true;
        }
        if any {
            self.events.apply_batch(batch).map_err(|e| self.engine(e))?;
        }
        Ok(any)
    }

    /// Re-derives the index entries of seqs `from..=to` from the events and merges them in.
    fn reindex(&self, from: u64, to: u64) -> Result<(), StoreError> {
        self.append_streams(from, to)?;
        let mut pending = IndexDelta::default();
        let mut failure = None;
        self.scan_range(from, to, &mut |event| {
            let added = pending.add(&event).and_then(|()| {
                if pending.ids.len() < 200_000 {
                    return Ok(());
                }
                let full = std::mem::take(&mut pending);
                self.apply_index(full.sorted_ids(), full.accounts, None)
            });
            if let Err(e) = added {
                failure = Some(e);
                return false;
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        self.apply_index(pending.sorted_ids(), pending.accounts, Some(to))
    }

    /// Writes index entries (idempotently) and, with the last sled batch, the marker: `ids`
    /// sorted ([`IndexDelta::sorted_ids`]), `accounts` each account's new entries.
    fn apply_index(
        &self,
        ids: Vec<[u8; ID_ENTRY]>,
        accounts: HashMap<Account, Vec<u64>>,
        through: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut writer = IndexWriter::new(self);
        for group in ids.chunk_by(|a, b| bucket_key(a) == bucket_key(b)) {
            let key = bucket_key(&group[0]);
            let old = self.index.get(key).map_err(|e| self.engine(e))?;
            let merged = merge_bucket(old.as_deref().unwrap_or(&[]), group).map_err(|seq| {
                self.corrupt(seq, "id index holds this event's id at another seq")
            })?;
            writer.put(&key, merged)?;
        }
        let mut accounts: Vec<_> = accounts.into_iter().collect();
        // In key order: sled then appends to few leaves instead of touching all of them.
        accounts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (account, entries) in accounts {
            let key = account_key(account.as_str());
            let old = self.index.get(&key).map_err(|e| self.engine(e))?;
            writer.put(
                &key,
                merge_account_list(old.as_deref().unwrap_or(&[]), &entries),
            )?;
        }
        writer.finish(through)
    }

    /// Visits the committed stored lines from `from_seq` in order, each exactly as it was
    /// sealed, for `log`: the export is the stored bytes, not a re-encoding of them. Each line
    /// must read as a stored line, carry its seq, hash to its stored hash (so it is byte for
    /// byte the line that was sealed, canonical as sealing wrote it) and link to the line
    /// before it (to the zero hash at seq 1); the first that does not ends the scan with
    /// `Corrupt` at its seq, as `verify` would name it. `visit` returns false to stop.
    pub fn scan_sealed_lines(
        &self,
        from_seq: u64,
        visit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let from = from_seq.max(1);
        let mut prev_hex = (from == 1).then(|| crate::event::hex_digits(&ZERO_HASH));
        self.scan_lines(from, self.visible_head().seq, &mut |seq, line| {
            let (view, _) =
                sealed_line(seq, line, prev_hex.as_ref()).map_err(|m| self.corrupt(seq, m))?;
            prev_hex = view.hash_hex.try_into().ok();
            Ok(visit(line))
        })
    }

    /// Visits committed events `from..=to` in order, decoded and checked for position.
    fn scan_range(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(StoredEvent) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_lines(from, to, &mut |seq, line| {
            let event = self.decode_line(seq, line)?;
            Ok(visit(event))
        })
    }

    /// Visits the raw stored lines of `from..=to`, block by block (streaming).
    fn scan_lines(&self, from: u64, to: u64, visit: LineVisitor<'_>) -> Result<(), StoreError> {
        let from = from.max(1);
        if from > to {
            return Ok(());
        }
        let start = match self.events.range(..=seq_key(from)).next_back() {
            Some(kv) => kv.map_err(|e| self.engine(e))?.0,
            None => return Err(self.corrupt(from, "event is missing")),
        };
        let mut expected = None;
        for kv in self.events.range(start..) {
            let (key, value) = kv.map_err(|e| self.engine(e))?;
            let first = read_u64(&key).ok_or_else(|| self.corrupt(from, "block key is damaged"))?;
            let want = expected.unwrap_or(first);
            if first != want {
                return Err(self.corrupt(
                    want,
                    format!("event is missing (next block starts at {first})"),
                ));
            }
            let block = Block::decode(&value).map_err(|m| self.corrupt(first, m))?;
            for i in 0..block.len() {
                let seq = first + i as u64;
                if seq > to {
                    return Ok(());
                }
                let line = block
                    .line(i)
                    .ok_or_else(|| self.corrupt(seq, "line bounds are damaged"))?;
                if seq >= from && !visit(seq, line)? {
                    return Ok(());
                }
            }
            expected = Some(first + block.len() as u64);
        }
        match expected {
            Some(next) if next > to => Ok(()),
            Some(next) => Err(self.corrupt(next, "event is missing")),
            None => Err(self.corrupt(from, "event is missing")),
        }
    }

    /// A line of `account`'s stream copy that the positional reader did not decode (its seq is
    /// whatever the line says). The full parser reads lines with their hashes (format 2) and
    /// explains what is wrong; a line in the copy form has no other reader than the positional
    /// one ([`StoredEvent::from_view`]), so it is named at its seq.
    fn decode_copy_line(&self, account: &Account, line: &[u8]) -> Result<StoredEvent, StoreError> {
        if let Some(view) = LineView::parse_copy(line).filter(|v| !v.is_sealed()) {
            let message = format!(
                "stream of {account}: the line of seq {} does not decode",
                view.seq
            );
            return Err(self.corrupt(view.seq, message));
        }
        StoredEvent::from_bytes_of(line, Some(account))
            .map_err(|e| self.corrupt(0, format!("stream of {account}: {}", e.message)))
    }

    fn decode_line(&self, seq: u64, line: &[u8]) -> Result<StoredEvent, StoreError> {
        let text = std::str::from_utf8(line).map_err(|_| self.corrupt(seq, "not UTF-8"))?;
        let event = StoredEvent::from_line(text).map_err(|e| self.corrupt(seq, e.message))?;
        if event.seq != seq {
            return Err(self.corrupt(seq, format!("holds seq {} instead", event.seq)));
        }
        Ok(event)
    }

    /// The committed event at `seq`, reusing `cache` when it holds the right block.
    fn read_event(
        &self,
        seq: u64,
        cache: &mut Option<(u64, Block<'static>)>,
    ) -> Result<StoredEvent, StoreError> {
        let hit = matches!(cache, Some((first, b)) if *first <= seq
            && seq - *first < b.len() as u64);
        if !hit {
            let (key, value) = match self.events.range(..=seq_key(seq)).next_back() {
                Some(kv) => kv.map_err(|e| self.engine(e))?,
                None => return Err(self.corrupt(seq, "event is missing")),
            };
            let first = read_u64(&key).ok_or_else(|| self.corrupt(seq, "block key is damaged"))?;
            let block = Block::decode(&value).map_err(|m| self.corrupt(first, m))?;
            *cache = Some((first, block.into_owned()));
        }
        let Some((first, block)) = cache.as_ref() else {
            return Err(self.corrupt(seq, "event is missing"));
        };
        let line = usize::try_from(seq - first)
            .ok()
            .and_then(|i| block.line(i))
            .ok_or_else(|| self.corrupt(seq, "event is missing"))?;
        self.decode_line(seq, line)
    }

    /// The raw account-list entries (seq, with MERGE_FLAG on absorbing merges) up to `head`.
    fn account_entries(&self, account: &Account, head: u64) -> Result<Vec<u64>, StoreError> {
        let key = account_key(account.as_str());
        let Some(v) = self.index.get(key).map_err(|e| self.engine(e))? else {
            return Ok(Vec::new());
        };
        if v.len() % 8 != 0 {
            return Err(self.corrupt(0, format!("account index of {account} does not decode")));
        }
        Ok(decode_entries(&v)
            .filter(|e| e & !MERGE_FLAG <= head)
            .collect())
    }

    fn own_version(&self, account: &Account, head: u64) -> Result<u64, StoreError> {
        let entries = self.account_entries(account, head)?;
        Ok(entries.iter().filter(|e| *e & MERGE_FLAG == 0).count() as u64)
    }

    /// Walks the stream copies from one end, handing each account with events of its own
    /// (as [`Store::accounts`] lists them) to `visit` until the walk from the other end has
    /// claimed the next account.
    fn walk_copies(
        &self,
        head: u64,
        needed: &Needed,
        meeting: &Meeting,
        end: End,
        visit: AccountVisitor<'_>,
    ) -> Result<(), StoreError> {
        let copies: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match end {
            End::Front => Box::new(self.streams.iter()),
            End::Back => Box::new(self.streams.iter().rev()),
        };
        // The account being read, and its chunks in walk order.
        let mut current: Option<(Vec<u8>, Vec<sled::IVec>)> = None;
        let mut finish = |name: &[u8], chunks: Vec<sled::IVec>| -> Result<bool, StoreError> {
            let account = std::str::from_utf8(name)
                .ok()
                .and_then(|n| Account::parse(n).ok())
                .ok_or_else(|| self.corrupt(1, "a stream key is damaged"))?;
            let mut events = Vec::new();
            let mut own = false;
            let in_order: Box<dyn Iterator<Item = &sled::IVec>> = match end {
                End::Front => Box::new(chunks.iter()),
                End::Back => Box::new(chunks.iter().rev()),
            };
            for value in in_order {
                self.read_copy_chunk(&account, value, head, needed, &mut events, &mut own)?;
            }
            Ok(!own || visit(&account, events)?)
        };
        for kv in copies {
            let (key, value) = kv.map_err(|e| self.engine(e))?;
            let name = key
                .split(|&b| b == 0)
                .next()
                .filter(|n| n.len() < key.len())
                .ok_or_else(|| self.corrupt(1, "a stream key is damaged"))?;
            if current.as_ref().is_none_or(|(n, _)| n.as_slice() != name) {
                if let Some((done, chunks)) = current.take() {
                    if !finish(&done, chunks)? {
                        meeting.stop();
                        return Ok(());
                    }
                }
                if !meeting.claim(end, name) {
                    return Ok(());
                }
                current = Some((name.to_vec(), Vec::new()));
            }
            if let Some((_, chunks)) = current.as_mut() {
                chunks.push(value);
            }
        }
        if let Some((done, chunks)) = current.take() {
            if !finish(&done, chunks)? {
                meeting.stop();
            }
        }
        Ok(())
    }

    /// Appends the events of one chunk of `account`'s stream copy (a `streams` value) with seq
    /// up to `head` to `out`, leaving out, undecoded, the lines `needed` rules out; sets `own`
    /// when a line up to the head is the account's own event (left out or not:
    /// [`Store::accounts`] counts it).
    fn read_copy_chunk(
        &self,
        account: &Account,
        value: &[u8],
        head: u64,
        needed: &Needed,
        out: &mut Vec<StoredEvent>,
        own: &mut bool,
    ) -> Result<(), StoreError> {
        let block = value
            .get(8..)
            .ok_or_else(|| "stream chunk is too short".to_string())
            .and_then(Block::decode)
            .map_err(|m| self.corrupt(0, format!("stream of {account}: {m}")))?;
        out.reserve(block.len());
        for i in 0..block.len() {
            let line = block.line(i).ok_or_else(|| {
                self.corrupt(0, format!("stream of {account}: line bounds are damaged"))
            })?;
            // The envelope is read once: to judge the line, then to decode it. A line that
            // does not read as stored goes to the full parser, which explains what is wrong.
            let view = LineView::parse_copy(line);
            if let Some(v) = view.as_ref().filter(|v| !needed.keeps(v)) {
                *own |= v.seq <= head && v.account == account.as_str();
                continue;
            }
            let mut event = match view.and_then(|v| StoredEvent::from_view(&v, Some(account))) {
                Some(event) => event,
                None => self.decode_copy_line(account, line)?,
            };
            // Whatever form the line is in: events read by account carry no hashes.
            (event.prev_hash, event.hash) = (ZERO_HASH, ZERO_HASH);
            if event.seq <= head {
                *own |= event.event.account == *account;
                out.push(event);
            }
        }
        Ok(())
    }

    /// Rebuilds the stream copies of `from..=to` from the log (recovery), in one pass.
    /// Idempotent: a line at or below a chunk's last seq is skipped (`merge_streams`), so it
    /// can run again over a range partly done.
    fn append_streams(&self, from: u64, to: u64) -> Result<(), StoreError> {
        if from > to {
            return Ok(());
        }
        let mut collector = StreamCollector::default();
        self.scan_lines(from, to, &mut |seq, line| {
            for owner in self.line_owners(seq, line)? {
                collector.add(self, &owner, seq, copy_form(line).into_owned())?;
            }
            Ok(true)
        })?;
        collector.finish(self)
    }

    /// The accounts whose streams hold this line: its own, and the absorbed one of a merge.
    fn line_owners(&self, seq: u64, line: &[u8]) -> Result<Vec<Account>, StoreError> {
        let view = LineView::parse(line)
            .ok_or_else(|| self.corrupt(seq, "stored line does not have the stored form"))?;
        let name = |n: &str| {
            Account::parse(n).map_err(|_| self.corrupt(seq, "stored line names no valid account"))
        };
        let mut owners = vec![name(view.account)?];
        if let Some(absorbed) = view.absorbed().filter(|a| *a != view.account) {
            owners.push(name(absorbed)?);
        }
        Ok(owners)
    }

    fn merge_streams(&self, pending: Pending, fresh: &HashSet<Account>) -> Result<(), StoreError> {
        let values = self.prepare_streams(pending, fresh)?;
        self.write_streams(values, &mut 0)
    }

    /// The chunk values that append `pending`'s lines to their accounts' copies, in key
    /// order: each account's last chunk (unless the account is `fresh`) is read and extended,
    /// and full chunks are packed. Reads sled, writes nothing: safe beside other work.
    fn prepare_streams(
        &self,
        pending: Pending,
        fresh: &HashSet<Account>,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mut accounts: Vec<_> = pending.into_iter().collect();
        accounts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (account, lines) in accounts {
            let prefix = stream_prefix(account.as_str());
            let last = if fresh.contains(&account) {
                None
            } else {
                self.streams
                    .scan_prefix(&prefix)
                    .next_back()
                    .transpose()
                    .map_err(|e| self.engine(e))?
            };
            let (mut number, mut last_seq, mut chunk) = match &last {
                Some((key, value)) => {
                    let number = key.get(prefix.len()..).and_then(read_u32).unwrap_or(0);
                    let last_seq = value.get(..8).and_then(read_u64).unwrap_or(0);
                    let block = value
                        .get(8..)
                        .ok_or_else(|| "stream chunk is too short".to_string())
                        .and_then(Block::decode)
                        .map_err(|m| self.corrupt(last_seq, format!("stream of {account}: {m}")))?;
                    let mut builder = BlockBuilder::default();
                    for i in 0..block.len() {
                        // A format-2 line (with hashes) is rewritten in the copy form.
                        builder.push(0, &copy_form(block.line(i).unwrap_or_default()));
                    }
                    (number, last_seq, builder)
                }
                None => (0, 0, BlockBuilder::default()),
            };
            let mut dirty = false;
            let already = last_seq;
            // Pending lines are in the copy form already (`StreamCollector::add`).
            for (seq, line) in lines.into_iter().filter(|(seq, _)| *seq > already) {
                if chunk.ends.len() >= STREAM_CHUNK_EVENTS
                    || chunk.data.len() + line.len() > STREAM_CHUNK_BYTES
                {
                    stream_values(&prefix, &mut number, last_seq, &mut chunk, &mut out);
                    number += 1;
                }
                chunk.push(0, &line);
                last_seq = seq;
                dirty = true;
            }
            if dirty {
                stream_values(&prefix, &mut number, last_seq, &mut chunk, &mut out);
            }
        }
        Ok(out)
    }

    /// Writes chunk values (in key order) in sled batches of `INDEX_BATCH_BYTES`, flushing
    /// every `STREAM_FLUSH_BYTES` (`unflushed` carries the count across calls).
    fn write_streams(
        &self,
        values: Vec<KeyValue>,
        unflushed: &mut usize,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut batch_bytes = 0usize;
        for (key, value) in values {
            batch_bytes += value.len();
            batch.insert(key, value);
            if batch_bytes >= INDEX_BATCH_BYTES {
                self.streams
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.engine(e))?;
                *unflushed += batch_bytes;
                batch_bytes = 0;
                if *unflushed >= STREAM_FLUSH_BYTES {
                    self.db.flush().map_err(|e| self.engine(e))?;
                    *unflushed = 0;
                }
            }
        }
        *unflushed += batch_bytes;
        self.streams.apply_batch(batch).map_err(|e| self.engine(e))
    }

    fn lookup_id(&self, id: &Uuid) -> Result<Option<u64>, StoreError> {
        let Some(bucket) = self
            .index
            .get(bucket_key(id.as_bytes()))
            .map_err(|e| self.engine(e))?
        else {
            return Ok(None);
        };
        Ok(bucket_lookup(&bucket, id.as_bytes()))
    }
}

/// Which end of the copies a walk starts from.
#[derive(Clone, Copy)]
enum End {
    Front,
    Back,
}

/// Where two walks over the copies, one from each end, have got to: the last account each
/// claimed. An account is claimed under the lock before it is read, so none is read twice
/// and none is skipped; a walk stops when the next account is the other's.
#[derive(Default)]
struct Meeting {
    claimed: Mutex<Claimed>,
    stopped: std::sync::atomic::AtomicBool,
}

/// The last account name each walk claimed.
#[derive(Default)]
struct Claimed {
    front: Option<Vec<u8>>,
    back: Option<Vec<u8>>,
}

impl Meeting {
    fn claim(&self, end: End, name: &[u8]) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let mut claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        let Claimed { front, back } = &mut *claimed;
        let (mine, free) = match end {
            End::Front => (front, back.as_deref().is_none_or(|b| name < b)),
            End::Back => (back, front.as_deref().is_none_or(|f| name > f)),
        };
        if free {
            *mine = Some(name.to_vec());
        }
        free
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

/// Which stored lines a projection needs (see `Store::account_events_for`), judged on the
/// stored text: dates and instants are fixed-width there, so text order is time order.
#[derive(Default)]
struct Needed {
    /// `YYYY-MM-DD`: lines dated later are not needed.
    until: Option<Vec<u8>>,
    /// The stored form of an instant: lines recorded later are not needed.
    known_at: Option<Vec<u8>>,
}

impl Needed {
    fn keeps(&self, view: &LineView<'_>) -> bool {
        if matches!(view.event_type, b"event_voided" | b"accounts_merged") {
            return true;
        }
        let dated_after = self.until.as_deref().is_some_and(|u| view.date > u);
        let recorded_after = self
            .known_at
            .as_deref()
            .is_some_and(|k| view.recorded_at > k);
        !(dated_after || recorded_after)
    }
}

/// The lines an append adds to the accounts' stream copies, grouped so that each account's
/// copy is written once per append. Up to `STREAM_PENDING_BYTES` stay in memory; a larger
/// append spills them to `STREAM_SPILL_PARTS` files, each holding one *range* of account
/// names, and merges the files in name order, so memory stays bounded, the log is never read
/// back, and the copies are written in key order (sled then appends to its tree instead of
/// rewriting leaves all over it once per file).
#[derive(Default)]
struct StreamCollector {
    pending: HashMap<Account, Vec<(u64, Vec<u8>)>>,
    /// Accounts known to have no stream copy yet (no entry in the account index when the
    /// append began): their first chunk is written without looking for a last one.
    fresh: HashSet<Account>,
    bytes: usize,
    spill: Option<Spill>,
}

struct Spill {
    parts: Vec<BufWriter<std::fs::File>>,
    /// Part n holds the names in `[bounds[n-1], bounds[n])` (ascending; the first and last
    /// parts are open-ended): quantiles of the names seen before spilling.
    bounds: Vec<Account>,
}

impl Spill {
    fn part_of(&self, owner: &Account) -> usize {
        self.bounds.partition_point(|b| b <= owner)
    }

    fn write(&mut self, owner: &Account, seq: u64, line: &[u8]) -> std::io::Result<()> {
        let n = self.part_of(owner);
        let Some(part) = self.parts.get_mut(n) else {
            return Err(std::io::Error::other("no spill file for a range"));
        };
        spill_write(part, owner, seq, line)
    }
}

impl StreamCollector {
    /// Takes a line for `owner`'s copy, in the copy form (`copy_form`).
    fn add(
        &mut self,
        store: &SledStore,
        owner: &Account,
        seq: u64,
        line: Vec<u8>,
    ) -> Result<(), StoreError> {
        if let Some(spill) = &mut self.spill {
            return spill
                .write(owner, seq, &line)
                .map_err(|e| store.spill_error(e));
        }
        self.bytes += line.len() + owner.as_str().len() + 32;
        match self.pending.get_mut(owner) {
            Some(lines) => lines.push((seq, line)),
            None => {
                self.pending.insert(owner.clone(), vec![(seq, line)]);
            }
        }
        if self.bytes > store.spill_bytes.load(Ordering::Relaxed) {
            self.start_spill(store).map_err(|e| store.spill_error(e))?;
        }
        Ok(())
    }

    fn start_spill(&mut self, store: &SledStore) -> std::io::Result<()> {
        let dir = store.dir.join(STREAM_SPILL_DIR);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let parts = (0..STREAM_SPILL_PARTS)
            .map(|n| {
                let file = std::fs::File::create(dir.join(format!("{n:02}")))?;
                Ok(BufWriter::with_capacity(64 * 1024, file))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut pending: Vec<_> = std::mem::take(&mut self.pending).into_iter().collect();
        pending.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Ranges from the names seen so far, weighted by their bytes (a ledger arrives
        // interleaved, so the first 24 MB name most of its accounts; names seen later land in
        // the range they sort into, which only unbalances the files).
        let bytes_of =
            |lines: &Vec<(u64, Vec<u8>)>| lines.iter().map(|(_, l)| l.len()).sum::<usize>();
        let total: usize = pending.iter().map(|(_, lines)| bytes_of(lines)).sum();
        let share = total / STREAM_SPILL_PARTS as usize + 1;
        let mut bounds = Vec::new();
        let mut filled = 0;
        for (owner, lines) in &pending {
            let room = bounds.len() + 1 < STREAM_SPILL_PARTS as usize;
            if room && filled >= share * (bounds.len() + 1) {
                bounds.push(owner.clone());
            }
            filled += bytes_of(lines);
        }
        let mut spill = Spill { parts, bounds };
        for (owner, lines) in pending {
            for (seq, line) in lines {
                spill.write(&owner, seq, &line)?;
            }
        }
        self.bytes = 0;
        self.spill = Some(spill);
        Ok(())
    }

    fn finish(self, store: &SledStore) -> Result<(), StoreError> {
        let Some(spill) = self.spill else {
            return store.merge_streams(self.pending, &self.fresh);
        };
        let dir = store.dir.join(STREAM_SPILL_DIR);
        let count = spill.parts.len();
        for part in spill.parts {
            part.into_inner()
                .map_err(|e| store.spill_error(e.into_error()))?;
        }
        // Two threads read, extend and pack the parts (even and odd) while this one writes
        // them to sled in order (part n holds lower names than part n + 1): packing was ~45 %
        // of this step and sled's writes ~25 %. A bounded channel keeps one part waiting each.
        let fresh = &self.fresh;
        let prepare = |n: usize| -> Result<Vec<KeyValue>, StoreError> {
            let data =
                std::fs::read(dir.join(format!("{n:02}"))).map_err(|e| store.spill_error(e))?;
            let pending = spill_read(&data).ok_or_else(|| {
                store.spill_error(std::io::Error::other("a spill file is damaged"))
            })?;
            drop(data);
            store.prepare_streams(pending, fresh)
        };
        let failed = || store.spill_error(std::io::Error::other("preparing the copies failed"));
        std::thread::scope(|scope| {
            let (prepare, count) = (&prepare, count);
            let (workers, lanes): (Vec<_>, Vec<_>) = (0..2)
                .map(|lane| {
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    let worker = scope.spawn(move || {
                        for n in (lane..count).step_by(2) {
                            // The writer hung up (it failed): stop.
                            if tx.send(prepare(n)).is_err() {
                                break;
                            }
                        }
                    });
                    (worker, rx)
                })
                .unzip();
            let mut unflushed = 0;
            let written = (0..count).try_for_each(|n| {
                let values = lanes[n % 2].recv().unwrap_or_else(|_| Err(failed()))?;
                store.write_streams(values, &mut unflushed)
            });
            drop(lanes);
            // Joined here, so that a worker's panic is an error, not the scope's panic.
            let joined: Vec<bool> = workers.into_iter().map(|w| w.join().is_ok()).collect();
            let joined = joined.iter().all(|&ok| ok);
            written.and(if joined { Ok(()) } else { Err(failed()) })
        })?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

/// One spilled line: owner length (u16), owner, seq (u64), line length (u32), line.
fn spill_write(
    part: &mut BufWriter<std::fs::File>,
    owner: &Account,
    seq: u64,
    line: &[u8],
) -> std::io::Result<()> {
    let name = owner.as_str().as_bytes();
    part.write_all(&(name.len() as u16).to_be_bytes())?;
    part.write_all(name)?;
    part.write_all(&seq.to_be_bytes())?;
    part.write_all(&(line.len() as u32).to_be_bytes())?;
    part.write_all(line)
}

type Pending = HashMap<Account, Vec<(u64, Vec<u8>)>>;

/// A sled key and value to write.
type KeyValue = (Vec<u8>, Vec<u8>);

fn spill_read(mut data: &[u8]) -> Option<Pending> {
    let mut pending: Pending = HashMap::new();
    let take = |data: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let (head, rest) = data.split_at_checked(n)?;
        *data = rest;
        Some(head.to_vec())
    };
    while !data.is_empty() {
        let len = u16::from_be_bytes(take(&mut data, 2)?.try_into().ok()?) as usize;
        let name = String::from_utf8(take(&mut data, len)?).ok()?;
        let owner = Account::parse(&name).ok()?;
        let seq = read_u64(&take(&mut data, 8)?)?;
        let len = read_u32(&take(&mut data, 4)?)? as usize;
        let line = take(&mut data, len)?;
        pending.entry(owner).or_default().push((seq, line));
    }
    Some(pending)
}

fn engine_error(path: &str, e: sled::Error) -> StoreError {
    StoreError::Engine {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// sled writes a snapshot as `snap.<lsn>.generating` and renames it when complete. One left
/// behind by a crash or a full disk is taken by sled 0.34.7 for the newest snapshot, and every
/// open then fails with "Read corrupted data" although the log is intact (found by the crash
/// campaign, once in 1,000 kills). Such leftovers are removed before opening, but only while no
/// other process holds the store (the same lock sled takes), so a snapshot being written by a
/// live process is never touched.
fn discard_interrupted_snapshots(path: &Path) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let leftovers: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snap.") && n.ends_with(".generating"))
        })
        .collect();
    if leftovers.is_empty() {
        return;
    }
    let Ok(db_file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.join("db"))
    else {
        return;
    };
    if db_file.try_lock().is_err() {
        return; // another process has the store open: its snapshot may be in progress
    }
    for leftover in leftovers {
        let _ = std::fs::remove_file(leftover);
    }
    let _ = db_file.unlock();
}

/// Creates a new store's (empty) data file, if it is not there yet. sled 0.34 writes `conf`
/// before it creates `db`, so a process opening a store that another process is creating could
/// see a `conf` without a `db`: exactly what a store whose data file was removed looks like
/// (found by the process race in `tests/concurrency.rs`). With `db` made first, a `conf`
/// without a `db` only ever means the data file is gone. Never truncates.
fn create_data_file(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path.join("db"))
        .map(drop)
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

/// Whether sled's open does the writes that prepare its file for writing (zeroing the tail of
/// the recovered segment and every free segment), or leaves them to the next open that does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recovery {
    Done,
    Deferred,
}

/// Whether the store's trees all exist (opening a missing one creates it: a write).
fn has_trees(db: &sled::Db) -> bool {
    let names = db.tree_names();
    [raw::EVENTS_TREE, "meta", "index", STREAMS_TREE]
        .into_iter()
        .all(|tree| names.iter().any(|n| n.as_ref() == tree.as_bytes()))
}

/// Opens sled, retrying while another process (or another handle here) holds the lock.
fn open_db(
    path: &Path,
    wait: Duration,
    access: Access,
    recovery: Recovery,
) -> Result<sled::Db, StoreError> {
    let shown = path.display().to_string();
    if !path.join("conf").exists() {
        create_data_file(path).map_err(|e| StoreError::Engine {
            path: shown.clone(),
            message: format!("cannot create its data file: {e}"),
        })?;
    }
    if path.join("conf").exists() && !path.join("db").exists() {
        // sled would quietly start an empty store over the remains of one.
        return Err(StoreError::Corrupt {
            path: shown,
            seq: 1,
            message: "its data file `db` is missing (the directory holds a store's `conf`); restore it from a backup or a `log` export".to_string(),
        });
    }
    discard_interrupted_snapshots(path);
    let started = Clock::now();
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(match access {
                Access::Append => APPEND_CACHE_BYTES,
                Access::Read => READ_CACHE_BYTES,
                Access::ReadWrite => CACHE_BYTES,
            })
            // Throughput mode: less segment rewriting; disk use is not the constraint here.
            .mode(sled::Mode::HighThroughput)
            // sled's periodic flusher also cleans segments: work for writers only.
            .flush_every_ms((access != Access::Read).then_some(FLUSH_EVERY_MS))
            .defer_recovery_writes(recovery == Recovery::Deferred)
            // The LRU hears of accesses 8 at a time, so the capacity bounds what a reader
            // keeps (vendor/sled/PATCHES.md, 3); `append` keeps upstream's 64 (see LRU_BLOCK).
            .lru_access_block(match access {
                Access::Append => UPSTREAM_LRU_BLOCK,
                Access::Read | Access::ReadWrite => LRU_BLOCK,
            })
            // A node read from the file keeps its values in the buffer it was read into
            // instead of copying each out (vendor/sled/PATCHES.md, 5): report 4-7 % and
            // verify 1-12 % less CPU. Only for one command's reading: the long-lived handle
            // measured no faster, and it rewrites pages, whose read buffers would live on for
            // the values left unchanged.
            .shared_reads(access == Access::Read)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(e) if is_lock_error(&e) && started.elapsed() < wait => {
                std::thread::sleep(LOCK_RETRY)
            }
            Err(e) if is_lock_error(&e) => {
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                    waited_ms: started.elapsed().as_millis() as u64,
                })
            }
            Err(e) => return Err(engine_error(&path.display().to_string(), e)),
        }
    }
}

/// Index entries of a run of consecutive events, before they are merged into the `index` tree.
#[derive(Default)]
struct IndexDelta {
    /// The seq of `ids[0]`.
    first: u64,
    /// The events' ids in seq order: the position gives the seq, so an id takes 16 bytes (at
    /// 1 M events 8 MB less at the import's peak than id ‖ seq entries).
    ids: Vec<[u8; 16]>,
    /// Per account, its new entries in seq order (MERGE_FLAG on absorbing merges).
    accounts: HashMap<Account, Vec<u64>>,
}

impl IndexDelta {
    /// Adds the next event; its callers (a batch's pushes, a scan of the log) go in seq order.
    fn add(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            self.first = event.seq;
        }
        let expected = self.seq_at(self.ids.len());
        if event.seq != expected {
            return Err(StoreError::Sequence(format!(
                "seq {}: the index entries being gathered expected seq {expected}",
                event.seq
            )));
        }
        self.ids.push(*event.event.id.as_bytes());
        self.push_account(&event.event.account, event.seq);
        if let Some(absorbed) = absorbed_other(event) {
            self.push_account(absorbed, event.seq | MERGE_FLAG);
        }
        Ok(())
    }

    fn seq_at(&self, position: usize) -> u64 {
        self.first + position as u64
    }

    /// The id-index entries (id ‖ seq), sorted by id.
    fn sorted_ids(&self) -> Vec<[u8; ID_ENTRY]> {
        let mut entries: Vec<[u8; ID_ENTRY]> = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| id_entry(&Uuid::from_bytes(*id), self.seq_at(i)))
            .collect();
        entries.sort_unstable();
        entries
    }

    fn push_account(&mut self, account: &Account, entry: u64) {
        match self.accounts.get_mut(account) {
            Some(list) => list.push(entry),
            None => {
                self.accounts.insert(account.clone(), vec![entry]);
            }
        }
    }
}

/// A hash table over the ids a batch staged, holding only positions into its
/// `IndexDelta::ids` (pushed in seq order, one per event): 4 bytes per slot, at most half of
/// the slots used, instead of a second copy of every id. Open addressing, linear probing; the
/// hash (foldhash) is seeded at random per batch, so ids chosen to collide would have to be
/// chosen without knowing it: foldhash claims only that much resistance, not a keyed PRF's.
#[derive(Default)]
struct IdSlots {
    keys: foldhash::fast::RandomState,
    /// 0 = empty, else position + 1.
    slots: Vec<u32>,
    used: usize,
}

impl IdSlots {
    fn slot_of(&self, id: &[u8]) -> usize {
        use std::hash::BuildHasher;
        // `slots.len()` is a power of two.
        self.keys.hash_one(id) as usize & (self.slots.len() - 1)
    }

    /// Records that `ids[position]` holds an id; positions go up by one per call.
    fn insert(&mut self, ids: &[[u8; 16]], position: usize) -> Result<(), String> {
        let Some(value) = u32::try_from(position + 1).ok().filter(|&v| v < u32::MAX) else {
            return Err(format!(
                "an append holds at most {} events; split the input",
                u32::MAX - 1
            ));
        };
        if (self.used + 1) * 2 > self.slots.len() {
            let size = (self.slots.len() * 2).max(1024);
            self.slots = vec![0; size];
            for p in 0..self.used {
                self.place(ids, (p + 1) as u32);
            }
        }
        self.place(ids, value);
        self.used += 1;
        Ok(())
    }

    fn place(&mut self, ids: &[[u8; 16]], value: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.slot_of(&ids[value as usize - 1]);
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = value;
    }

    /// The position in `ids` of `id`, if staged.
    fn find(&self, ids: &[[u8; 16]], id: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.slot_of(id);
        loop {
            let position = (*self.slots.get(at)? as usize).checked_sub(1)?;
            if ids.get(position).is_some_and(|e| e[..] == *id) {
                return Some(position);
            }
            at = (at + 1) & mask;
        }
    }
}

/// Packs (zstd) the log blocks of an append on a second thread, in order, while the session
/// validates the next events: packing was a sixteenth of an import's single busy core. A chunk
/// stays here, unpacked and readable by `staged`, until its packed blocks are written.
struct Packer {
    work: Option<std::sync::mpsc::SyncSender<std::sync::Arc<Vec<BlockBuilder>>>>,
    packed: std::sync::mpsc::Receiver<Vec<(u64, Vec<u8>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Chunks handed over and not yet written, oldest first.
    in_flight: VecDeque<std::sync::Arc<Vec<BlockBuilder>>>,
}

impl Packer {
    /// Chunks waiting to be packed before a new one waits for room (each ~1,000 events).
    const QUEUE: usize = 2;

    fn start() -> Packer {
        let (work, jobs) =
            std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<BlockBuilder>>>(Self::QUEUE);
        let (done, packed) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("partner-ledger-packer".into())
            .spawn(move || {
                for chunk in jobs {
                    if done.send(pack_chunk(&chunk)).is_err() {
                        return; // the batch is gone
                    }
                }
            })
            .ok();
        Packer {
            work: Some(work).filter(|_| thread.is_some()),
            packed,
            thread,
            in_flight: VecDeque::new(),
        }
    }

    fn send(&mut self, chunk: Vec<BlockBuilder>) {
        let chunk = std::sync::Arc::new(chunk);
        self.in_flight.push_back(chunk.clone());
        let sent = self.work.as_ref().is_some_and(|w| w.send(chunk).is_ok());
        if !sent {
            // No thread (it could not start, or ended): pack here, in order.
            self.work = None;
        }
    }

    /// A chunk packed by now, oldest first; packs one here when there is no thread.
    fn try_packed(&mut self) -> Option<Vec<(u64, Vec<u8>)>> {
        if self.work.is_none() && self.thread.is_none() {
            return self.in_flight.front().map(|chunk| pack_chunk(chunk));
        }
        self.packed.try_recv().ok()
    }

    /// Everything still to be written, in order; ends the thread.
    fn finish(&mut self) -> Vec<Vec<(u64, Vec<u8>)>> {
        self.work = None;
        let mut out: Vec<_> = self.packed.iter().collect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        out.extend(self.packed.try_iter());
        // Whatever the thread did not pack (it cannot fail, but a panic would stop it).
        let left: Vec<_> = self.in_flight.iter().skip(out.len()).collect();
        out.extend(left.into_iter().map(|chunk| pack_chunk(chunk)));
        out
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        self.work = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Groups index writes into sled batches of bounded size; the marker rides in the last one.
struct IndexWriter<'a> {
    store: &'a SledStore,
    batch: sled::Batch,
    bytes: usize,
}

impl<'a> IndexWriter<'a> {
    fn new(store: &'a SledStore) -> Self {
        IndexWriter {
            store,
            batch: sled::Batch::default(),
            bytes: 0,
        }
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.bytes += key.len() + value.len();
        self.batch.insert(key, value);
        if self.bytes >= INDEX_BATCH_BYTES {
            let full = std::mem::take(&mut self.batch);
            self.store
                .index
                .apply_batch(full)
                .map_err(|e| self.store.engine(e))?;
            self.bytes = 0;
        }
        Ok(())
    }

    fn finish(mut self, through: Option<u64>) -> Result<(), StoreError> {
        if let Some(seq) = through {
            self.batch.insert(KEY_INDEXED_THROUGH, &seq_key(seq));
        }
        self.store
            .index
            .apply_batch(self.batch)
            .map_err(|e| self.store.engine(e))
    }
}

// ------------------------------------------------------------------------------------------------
// Reading

impl Store for SledStore {
    fn head(&self) -> Result<Head, StoreError> {
        Ok(self.visible_head())
    }

    fn scan(
        &self,
        from_seq: u64,
        visit: &mut dyn FnMut(StoredEvent) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_range(from_seq, self.visible_head().seq, visit)
    }

    fn account_events(&self, account: &Account) -> Result<Vec<StoredEvent>, StoreError> {
        self.account_events_for(account, None, None)
    }

    fn account_events_for(
        &self,
        account: &Account,
        until: Option<Date>,
        known_at: Option<Instant>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let head = self.visible_head().seq;
        let needed = Needed {
            until: until.map(|d| format_date(d).into_bytes()),
            known_at: known_at.map(|t| format_instant(t).into_bytes()),
        };
        let mut out = Vec::new();
        for kv in self.streams.scan_prefix(stream_prefix(account.as_str())) {
            let (_, value) = kv.map_err(|e| self.engine(e))?;
            self.read_copy_chunk(account, &value, head, &needed, &mut out, &mut false)?;
        }
        Ok(out)
    }

    fn for_each_account_events_from_both_ends(
        &self,
        until: Option<Date>,
        front: AccountVisitor<'_>,
        back: SendAccountVisitor<'_>,
    ) -> Result<(), StoreError> {
        let head = self.visible_head().seq;
        let needed = Needed {
            until: until.map(|d| format_date(d).into_bytes()),
            known_at: None,
        };
        let meeting = Meeting::default();
        std::thread::scope(|scope| {
            let (needed, meeting) = (&needed, &meeting);
            // A walk that fails stops the other too.
            let walk = move |end: End, visit: AccountVisitor<'_>| {
                let walked = self.walk_copies(head, needed, meeting, end, visit);
                if walked.is_err() {
                    meeting.stop();
                }
                walked
            };
            let back = scope.spawn(move || walk(End::Back, back));
            let front = walk(End::Front, front);
            let back = back.join().unwrap_or_else(|_| {
                Err(self.corrupt(1, "reading the accounts from the last one failed"))
            });
            front.and(back)
        })
    }

    fn account_version(&self, account: &Account) -> Result<u64, StoreError> {
        self.own_version(account, self.visible_head().seq)
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let head = self.visible_head().seq;
        let mut out = Vec::new();
        for kv in self.index.scan_prefix([ACCOUNT_PREFIX]) {
            let (key, value) = kv.map_err(|e| self.engine(e))?;
            let first_seq = || decode_entries(&value).next().unwrap_or(0) & !MERGE_FLAG;
            let own = decode_entries(&value).any(|e| e & MERGE_FLAG == 0 && e <= head);
            if !own {
                continue;
            }
            let name = std::str::from_utf8(&key[1..])
                .ok()
                .and_then(|s| Account::parse(s).ok());
            out.push(
                name.ok_or_else(|| self.corrupt(first_seq(), "account index key is damaged"))?,
            );
        }
        Ok(out)
    }

    fn get_by_id(&self, id: &Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let head = self.visible_head().seq;
        if head == 0 {
            // An empty log holds no id (the first import into a store asks for every one).
            return Ok(None);
        }
        let Some(seq) = self.lookup_id(id)?.filter(|&s| s <= head) else {
            return Ok(None);
        };
        let event = self.read_event(seq, &mut None)?;
        if event.event.id != *id {
            return Err(self.corrupt(
                seq,
                format!("id index maps {id} to an event with another id"),
            ));
        }
        Ok(Some(event))
    }

    fn begin(&self) -> Result<Box<dyn AppendBatch + '_>, StoreError> {
        if self.access == Access::Read {
            return Err(StoreError::Engine {
                path: self.path.clone(),
                message: "this handle was opened for reading; open the store to append".into(),
            });
        }
        // The mutex guards no data, only the right to append: a panic elsewhere is harmless.
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // Normally a no-op; after a failed commit this settles what is on disk first.
        let base = self.recover_if_needed()?;
        Ok(Box::new(SledBatch {
            store: self,
            _guard: guard,
            base,
            last_seq: base.seq,
            last_hash: base.hash,
            max_recorded_at: base.recorded_at,
            versions: HashMap::new(),
            block: BlockBuilder::default(),
            chunk_blocks: Vec::new(),
            packer: Packer::start(),
            unpacked: RefCell::new(VecDeque::new()),
            chunk_events: 0,
            delta: IndexDelta::default(),
            id_slots: IdSlots::default(),
            streams: StreamCollector::default(),
            head_written: false,
        }))
    }

    fn verify(&self, progress: Progress<'_>) -> Result<VerifyReport, StoreError> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        verify::verify(self, false, progress)
    }

    fn verify_deep(&self, progress: Progress<'_>) -> Result<VerifyReport, StoreError> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        verify::verify(self, true, progress)
    }
}

impl SledStore {
    /// Runs recovery when the disk and the readers' view disagree or leftovers exist.
    fn recover_if_needed(&self) -> Result<Head, StoreError> {
        let visible = self.visible_head();
        let leftovers = self
            .events
            .range(seq_key(visible.seq.saturating_add(1))..)
            .next()
            .is_some();
        if leftovers || self.disk_head()? != visible || self.indexed_through()? != visible.seq {
            return self.recover();
        }
        Ok(visible)
    }
}

// ------------------------------------------------------------------------------------------------
// Appending

struct SledBatch<'a> {
    store: &'a SledStore,
    _guard: MutexGuard<'a, ()>,
    /// The head when the batch began.
    base: Head,
    last_seq: u64,
    last_hash: Hash,
    max_recorded_at: Option<Instant>,
    /// Current versions of the accounts this batch touched.
    versions: HashMap<Account, u64>,
    block: BlockBuilder,
    /// Closed blocks not yet written, kept unpacked so that `staged` reads them for free;
    /// they are packed when the chunk is written.
    chunk_blocks: Vec<BlockBuilder>,
    /// Packs written-out chunks on a second thread; holds them, unpacked, until written.
    packer: Packer,
    chunk_events: usize,
    /// Blocks of this batch already written beyond the head, unpacked, most recent last
    /// (validation re-reads the staged events of an account several times).
    unpacked: RefCell<VecDeque<(u64, Block<'static>)>>,
    delta: IndexDelta,
    /// Finds a staged id in `delta.ids` (the session asks for every id it checks).
    id_slots: IdSlots,
    /// The staged lines, by owner, for the stream copies written after the commit.
    streams: StreamCollector,
    /// Set just before the head marker is written: from then on the blocks are committed
    /// (or the outcome is unknown) and must not be removed by `drop`.
    head_written: bool,
}

impl SledBatch<'_> {
    /// The account's version before this batch's next event: its own lines stored (read once
    /// per batch) and staged.
    fn version_of(&mut self, account: &Account) -> Result<u64, StoreError> {
        if let Some(&v) = self.versions.get(account) {
            return Ok(v);
        }
        let entries = self.store.account_entries(account, self.base.seq)?;
        if entries.is_empty() {
            self.streams.fresh.insert(account.clone());
        }
        Ok(entries.iter().filter(|e| *e & MERGE_FLAG == 0).count() as u64)
    }

    /// Stages an event whose links and hash are checked, with its stored line and that line's
    /// copy form (`copy_form`), which the stream copies take as it is.
    fn stage(
        &mut self,
        event: StoredEvent,
        line: String,
        copy: Vec<u8>,
        current: u64,
    ) -> Result<(), StoreError> {
        let account = &event.event.account;
        if line.len() > MAX_LINE_BYTES {
            return Err(StoreError::Sequence(format!(
                "seq {}: stored form is {} bytes, more than the {MAX_LINE_BYTES} a store accepts",
                event.seq,
                line.len()
            )));
        }
        // A merge is in the absorbed account's copy too.
        let absorbed = absorbed_other(&event).map(|a| (a, copy.clone()));
        self.streams.add(self.store, account, event.seq, copy)?;
        if let Some((absorbed, copy)) = absorbed {
            if !self.versions.contains_key(absorbed)
                && !self.streams.pending.contains_key(absorbed)
                && self
                    .store
                    .account_entries(absorbed, self.base.seq)?
                    .is_empty()
            {
                // Only possible for an account never seen before; checked, not assumed.
                self.streams.fresh.insert(absorbed.clone());
            }
            self.streams.add(self.store, absorbed, event.seq, copy)?;
        }
        self.block.push(event.seq, line.as_bytes());
        if self.block.is_full() {
            self.close_block();
        }
        self.chunk_events += 1;
        if self.chunk_events >= CHUNK_EVENTS {
            self.close_block();
            self.write_chunk()?;
        }
        match self.versions.get_mut(account) {
            Some(v) => *v += 1,
            None => {
                self.versions.insert(account.clone(), current + 1);
            }
        }
        self.delta.add(&event)?;
        self.id_slots
            .insert(&self.delta.ids, self.delta.ids.len() - 1)
            .map_err(StoreError::Sequence)?;
        self.last_seq = event.seq;
        self.last_hash = event.hash;
        self.max_recorded_at = self.max_recorded_at.max(Some(event.event.recorded_at));
        Ok(())
    }

    fn close_block(&mut self) {
        if !self.block.ends.is_empty() {
            self.chunk_blocks.push(std::mem::take(&mut self.block));
        }
    }

    /// The stored line of a staged seq: in the open block, the unwritten chunk, or the blocks
    /// already written beyond the head.
    fn staged_line(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if seq <= self.base.seq || seq > self.last_seq {
            return Ok(None);
        }
        if let Some(line) = self.block.line_of(seq) {
            return Ok(Some(line.to_vec()));
        }
        let unwritten = self.packer.in_flight.iter().flat_map(|c| c.iter());
        if let Some(block) = unwritten
            .chain(&self.chunk_blocks)
            .rev()
            .find(|b| b.first <= seq)
        {
            return Ok(block.line_of(seq).map(<[u8]>::to_vec));
        }
        let line_in = |first: u64, block: &Block<'_>| {
            usize::try_from(seq - first)
                .ok()
                .and_then(|i| block.line(i))
                .map(<[u8]>::to_vec)
        };
        let mut unpacked = self.unpacked.borrow_mut();
        if let Some((first, block)) = unpacked
            .iter()
            .find(|(first, b)| *first <= seq && seq - first < b.len() as u64)
        {
            return Ok(line_in(*first, block));
        }
        let found = self.store.events.range(..=seq_key(seq)).next_back();
        match found {
            Some(Ok((key, value))) => {
                let first = read_u64(&key).unwrap_or(0);
                let block = Block::decode(&value)
                    .map_err(|m| self.store.corrupt(first, m))?
                    .into_owned();
                let line = line_in(first, &block);
                if unpacked.len() >= UNPACKED_CACHE_BLOCKS {
                    unpacked.pop_front();
                }
                unpacked.push_back((first, block));
                Ok(line)
            }
            Some(Err(e)) => Err(self.store.engine(e)),
            None => Ok(None),
        }
    }

    /// Hands the finished blocks so far to the packer, and writes beyond the head (invisible
    /// until the commit) the chunks it has packed.
    fn write_chunk(&mut self) -> Result<(), StoreError> {
        self.chunk_events = 0;
        let chunk = std::mem::take(&mut self.chunk_blocks);
        if !chunk.is_empty() {
            self.packer.send(chunk);
        }
        while let Some(packed) = self.packer.try_packed() {
            self.write_packed(packed)?;
        }
        Ok(())
    }

    fn write_packed(&mut self, packed: Vec<(u64, Vec<u8>)>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (first, value) in packed {
            batch.insert(&seq_key(first), value);
        }
        self.store
            .events
            .apply_batch(batch)
            .map_err(|e| self.store.engine(e))?;
        self.packer.in_flight.pop_front();
        Ok(())
    }

    /// Writes every chunk still with the packer and ends it.
    fn write_all_chunks(&mut self) -> Result<(), StoreError> {
        self.write_chunk()?;
        for packed in self.packer.finish() {
            self.write_packed(packed)?;
        }
        if self.packer.in_flight.is_empty() {
            Ok(())
        } else {
            Err(self.store.corrupt(
                self.last_seq,
                "the block packer stopped before packing every block",
            ))
        }
    }

    /// Rejects an id that is already stored or appears twice in the batch. Done once at
    /// commit over the sorted ids, reading each touched bucket once, rather than per push.
    fn check_ids_unique(&self, ids: &[[u8; ID_ENTRY]]) -> Result<(), StoreError> {
        let dup = |e: &[u8; ID_ENTRY]| {
            let id = Uuid::from_slice(&e[..16]).unwrap_or_default();
            let seq = read_u64(&e[16..]).unwrap_or(0);
            Err(StoreError::Sequence(format!(
                "seq {seq}: id {id} is already stored"
            )))
        };
        if let Some(w) = ids.windows(2).find(|w| w[0][..16] == w[1][..16]) {
            return dup(&w[1]);
        }
        for group in ids.chunk_by(|a, b| bucket_key(a) == bucket_key(b)) {
            let bucket = self
                .store
                .index
                .get(bucket_key(&group[0]))
                .map_err(|e| self.store.engine(e))?;
            let Some(bucket) = bucket else { continue };
            if let Some(e) = group
                .iter()
                .find(|e| bucket_lookup(&bucket, &e[..16]).is_some())
            {
                return dup(e);
            }
        }
        Ok(())
    }
}

impl AppendBatch for SledBatch<'_> {
    fn push(&mut self, event: StoredEvent) -> Result<(), StoreError> {
        let line = event.to_line();
        let current = self.version_of(&event.event.account)?;
        check_continues(&event, self.last_seq, &self.last_hash, current, Some(&line))?;
        let copy = copy_form(line.as_bytes()).into_owned();
        self.stage(event, line, copy, current)
    }

    fn push_sealed(&mut self, sealed: Sealed) -> Result<(), StoreError> {
        let (event, line, copy) = sealed.into_parts();
        let current = self.version_of(&event.event.account)?;
        check_links(&event, self.last_seq, &self.last_hash, current)?;
        self.stage(event, line, copy.into_bytes(), current)
    }

    fn staged(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let Some(line) = self.staged_line(seq)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&line)
            .map_err(|_| self.store.corrupt(seq, "staged line is not UTF-8"))?;
        StoredEvent::from_line(text).map(Some).map_err(|e| {
            self.store
                .corrupt(seq, format!("staged line does not decode: {e}"))
        })
    }

    fn staged_id(&self, id: &Uuid) -> Option<u64> {
        let position = self.id_slots.find(&self.delta.ids, id.as_bytes())?;
        Some(self.delta.seq_at(position))
    }

    fn staged_for(&self, account: &Account) -> Vec<u64> {
        let entries = self.delta.accounts.get(account);
        entries.map_or_else(Vec::new, |e| e.iter().map(|s| s & !MERGE_FLAG).collect())
    }

    fn commit(mut self: Box<Self>) -> Result<Head, StoreError> {
        let store = self.store;
        self.id_slots = IdSlots::default();
        if self.last_seq == self.base.seq {
            return Ok(self.base);
        }
        self.close_block();
        self.write_all_chunks()?;
        let ids = self.delta.sorted_ids();
        self.delta.ids = Vec::new();
        self.check_ids_unique(&ids)?;
        // Blocks durable before the marker that makes them committed.
        store.db.flush().map_err(|e| store.engine(e))?;
        let head = Head {
            seq: self.last_seq,
            hash: self.last_hash,
            recorded_at: self.max_recorded_at,
        };
        self.head_written = true;
        store
            .meta
            .insert(KEY_HEAD, encode_head(&head))
            .map_err(|e| store.engine(e))?;
        store.db.flush().map_err(|e| store.engine(e))?;
        // Committed. Indexes follow; a crash here is finished by `recover` on the next open,
        // which redoes both (idempotently) until the marker written last says they are done.
        // The index entries go first so that their memory is freed before the copies are
        // written (the peak of a large import).
        store.apply_index(ids, std::mem::take(&mut self.delta.accounts), None)?;
        self.versions = HashMap::new();
        std::mem::take(&mut self.streams).finish(store)?;
        store.apply_index(Vec::new(), HashMap::new(), Some(head.seq))?;
        *store.visible.write().unwrap_or_else(|p| p.into_inner()) = head;
        Ok(head)
    }
}

impl Drop for SledBatch<'_> {
    fn drop(&mut self) {
        if !self.head_written {
            // Best effort: `begin` and `open` remove leftovers too.
            let _ = self.store.remove_beyond(self.base.seq);
        }
        if self.streams.spill.is_some() {
            let _ = std::fs::remove_dir_all(self.store.dir.join(STREAM_SPILL_DIR));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_line_links_to_the_hash_text_of_the_line_before() {
        let line = br#"{"account":"adventure-works-0000387","data":{"fee":{"amount":"515.00","currency":"USD"},"offer":"action_pack"},"date":"2023-01-01","hash":"914b100ab64c1e9e6f080d018aaf802b3302343a6df194bb3deb2c41c9eea268","id":"ec9d66f1-b035-4bfa-9f6e-431722829299","prev_hash":"9ca41076db0b0c667cda88c23cd68fddf03a223c0d4edc4db9203a433e7ba64f","recorded_at":"2023-01-01T08:00:01.000000Z","seq":2,"type":"membership_purchased","version":2}"#;
        let prev = *b"9ca41076db0b0c667cda88c23cd68fddf03a223c0d4edc4db9203a433e7ba64f";
        let (view, hash) = sealed_line(2, line, Some(&prev)).unwrap();
        assert!(hex_equals(&hash, view.hash_hex));
        assert!(sealed_line(2, line, None).is_ok(), "nothing to link to");
        let unlinked = "prev_hash does not link to the previous event";
        let mut other = prev;
        other[63] = b'e';
        assert_eq!(
            sealed_line(2, line, Some(&other)).err().as_deref(),
            Some(unlinked)
        );
        let mut upper = prev;
        upper.make_ascii_uppercase();
        assert_eq!(
            sealed_line(2, line, Some(&upper)).err().as_deref(),
            Some(unlinked)
        );
        assert_eq!(
            sealed_line(3, line, Some(&prev)).err().as_deref(),
            Some("holds seq 2 instead")
        );
    }

    #[test]
    fn block_round_trip_and_damage() {
        let lines = vec![b"one".to_vec(), b"".to_vec(), b"three".to_vec()];
        let v = raw::encode_block(&lines);
        assert_eq!(raw::decode_block(&v), Some(lines));
        assert!(raw::decode_block(&v[..v.len() - 1]).is_none());
        assert!(raw::decode_block(&[]).is_none());
        assert!(raw::decode_block(&[BLOCK_FORMAT, 255, 255, 255, 255]).is_none());
    }

    /// Lines of `n` bytes: repetitive JSON-like text, or bytes from a PRNG (which do not pack).
    fn lines(count: usize, n: usize, random: bool) -> Vec<Vec<u8>> {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        (0..count)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let text = b"{\"account\":\"contoso\",\"type\":\"x\"}";
                        if random {
                            x as u8
                        } else {
                            text[(i + j) % text.len()]
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn build(lines: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
        let mut b = BlockBuilder::default();
        for (i, l) in lines.iter().enumerate() {
            b.push(100 + i as u64, l);
        }
        pack_chunk(&[b])
    }

    #[test]
    fn packed_blocks_round_trip_and_shrink() {
        let lines = lines(60, 400, false);
        let blocks = build(&lines);
        assert_eq!(blocks.len(), 1);
        let (first, value) = &blocks[0];
        assert_eq!(*first, 100);
        assert_eq!(value[0], PACKED_FORMAT);
        assert!(
            value.len() * 4 < 60 * 400,
            "packed to {} bytes",
            value.len()
        );
        assert_eq!(raw::decode_block(value), Some(lines));
        // A damaged frame is refused, never a panic.
        let mut bad = value.clone();
        bad.truncate(bad.len() / 2);
        assert!(raw::decode_block(&bad).is_none());
    }

    #[test]
    fn copy_chunks_pack_with_lz4_round_trip_and_damage_is_refused() {
        let lines = copy_lines(1, 20, 30);
        let mut chunk = BlockBuilder::default();
        lines.iter().for_each(|l| chunk.push(0, l));
        let raw = raw_block(&chunk.ends, &chunk.data, 0);
        let value = pack(raw.clone(), Packing::Copy);
        assert_eq!(value[0], LZ4_FORMAT);
        assert_eq!(read_u32(&value[1..5]), Some(raw.len() as u32));
        assert!(value.len() < raw.len());
        assert_eq!(raw::decode_block(&value), Some(lines));
        let with_size = |size: u32| {
            let mut v = value.clone();
            v[1..5].copy_from_slice(&size.to_be_bytes());
            v
        };
        let damaged = [
            value[..value.len() / 2].to_vec(),
            value[..3].to_vec(),
            vec![LZ4_FORMAT],
            with_size(raw.len() as u32 - 1),
            with_size(raw.len() as u32 + 1),
            with_size(MAX_UNPACKED_BYTES as u32 + 1),
            with_size(u32::MAX),
            [&value[..5], &[0xff; 64][..]].concat(),
        ];
        for (i, bad) in damaged.iter().enumerate() {
            let refused = Block::decode(bad).err().unwrap_or_default();
            assert!(refused.contains("packed block"), "case {i}: {refused:?}");
        }
        // A block that LZ4 cannot shrink stays unpacked.
        let tiny = raw_block(&[2], b"{}", 0);
        assert_eq!(pack(tiny.clone(), Packing::Copy), tiny);
    }

    #[test]
    fn a_block_that_packs_badly_is_split_until_each_part_fits() {
        let lines = lines(60, 400, true);
        let blocks = build(&lines);
        assert!(blocks.len() > 1);
        let mut seq = 100;
        let mut back = Vec::new();
        for (first, value) in &blocks {
            assert_eq!(*first, seq, "consecutive blocks");
            assert!(value.len() <= BLOCK_PACKED_MAX, "{} bytes", value.len());
            let got = raw::decode_block(value).unwrap();
            seq += got.len() as u64;
            back.extend(got);
        }
        assert_eq!(back, lines);
    }

    /// Copy-form lines of seqs `first..` whose data is `n` bytes of noise (packs badly).
    fn copy_lines(first: u64, count: usize, n: usize) -> Vec<Vec<u8>> {
        let mut next = crate::event::tests::xorshift(0x2545_F491_4F6C_DD1D);
        (0..count as u64)
            .map(|i| {
                let noise: String = (0..n)
                    .map(|_| char::from(b'a' + (next() % 26) as u8))
                    .collect();
                format!(
                    "{{\"account\":\"a\",\"data\":{{\"note\":\"{noise}\"}},\"date\":\"2024-01-01\",\"id\":\"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50\",\"recorded_at\":\"2024-01-01T00:00:00.000000Z\",\"seq\":{},\"type\":\"x\",\"version\":{}}}",
                    first + i,
                    i + 1
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn a_stream_chunk_that_packs_badly_is_split_into_numbered_chunks_that_fit() {
        for (count, n) in [(3, 100), (40, 380), (64, 200)] {
            let lines = copy_lines(500, count, n);
            let mut chunk = BlockBuilder::default();
            for l in &lines {
                assert!(LineView::parse_copy(l).is_some());
                chunk.push(0, l);
            }
            let whole = pack(raw_block(&chunk.ends, &chunk.data, 0), Packing::Copy).len();
            let mut number = 7;
            let mut out = Vec::new();
            stream_values(
                b"a\0",
                &mut number,
                500 + count as u64 - 1,
                &mut chunk,
                &mut out,
            );
            assert!(chunk.ends.is_empty(), "the chunk is emptied");
            assert_eq!(
                number as usize,
                7 + out.len() - 1,
                "left at the last number used"
            );
            let mut back = Vec::new();
            for (i, (key, value)) in out.iter().enumerate() {
                assert_eq!(key.as_slice(), stream_key(b"a\0", 7 + i as u32).as_slice());
                assert!(value.len() <= 8 + BLOCK_PACKED_MAX, "{} bytes", value.len());
                let part = raw::decode_block(&value[8..]).unwrap();
                let last = LineView::parse_copy(part.last().unwrap()).unwrap().seq;
                assert_eq!(read_u64(&value[..8]), Some(last), "its last seq");
                back.extend(part);
            }
            assert_eq!(back, lines);
            // Split exactly when the chunk packed whole would not fit.
            assert_eq!(
                out.len() > 1,
                whole > BLOCK_PACKED_MAX,
                "{count} x {n}: {whole} bytes"
            );
        }
        // The cases above include both.
        let sizes = [(3, 100), (64, 200)].map(|(count, n)| {
            let lines = copy_lines(1, count, n);
            let mut chunk = BlockBuilder::default();
            lines.iter().for_each(|l| chunk.push(0, l));
            pack(raw_block(&chunk.ends, &chunk.data, 0), Packing::Copy).len()
        });
        assert!(
            sizes[0] <= BLOCK_PACKED_MAX && sizes[1] > BLOCK_PACKED_MAX,
            "{sizes:?}"
        );
    }

    #[test]
    fn bucket_merge_is_idempotent_and_sorted() {
        let a = Uuid::from_u128(5);
        let b = Uuid::from_u128(1);
        let first = merge_bucket(&[], &[id_entry(&a, 2)]).unwrap();
        let second = merge_bucket(&first, &[id_entry(&b, 1), id_entry(&a, 2)]).unwrap();
        assert_eq!(bucket_lookup(&second, a.as_bytes()), Some(2));
        assert_eq!(bucket_lookup(&second, b.as_bytes()), Some(1));
        assert_eq!(second.len(), 2 * ID_ENTRY);
        assert_eq!(merge_bucket(&second, &[id_entry(&a, 3)]), Err(3));
    }

    #[test]
    fn account_list_merge_skips_known_entries() {
        let once = merge_account_list(&[], &[1, 3 | MERGE_FLAG]);
        let twice = merge_account_list(&once, &[3 | MERGE_FLAG, 7]);
        assert_eq!(
            decode_entries(&twice).collect::<Vec<_>>(),
            vec![1, 3 | MERGE_FLAG, 7]
        );
    }

    #[test]
    fn head_record_round_trips() {
        let t = DateTime::from_timestamp_micros(1_700_000_000_123_456);
        let h = Head {
            seq: 42,
            hash: [7; 32],
            recorded_at: t,
        };
        assert_eq!(decode_head(&encode_head(&h)), Some(h));
        assert_eq!(decode_head(&encode_head(&Head::EMPTY)), Some(Head::EMPTY));
        assert_eq!(decode_head(b"short"), None);
    }
}
