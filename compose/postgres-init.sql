-- One database a service: no service reads another's tables.
CREATE DATABASE auth;
CREATE DATABASE activities;
CREATE DATABASE router;
