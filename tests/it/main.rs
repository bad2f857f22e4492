mod download;
mod http;
mod matching;
mod props;
mod vectors;
