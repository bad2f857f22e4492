mod handshake;
mod props;
mod routing;
mod strategies;
mod vectors;
