mod props;
mod sim;
mod vectors;
