#![allow(dead_code)]
mod logging;
mod options;
mod serve;

fn main() {}
