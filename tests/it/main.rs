mod download;
pub mod http;
mod matching;
mod props;
mod vectors;
