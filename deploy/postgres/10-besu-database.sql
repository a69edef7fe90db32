CREATE DATABASE tierflow_besu OWNER tierflow;
