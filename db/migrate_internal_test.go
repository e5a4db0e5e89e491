package db

// RunMigrationFiles runs the numbered files alone, without schema.sql's
// bootstrap, so that tests can replay the whole chain from version 1.
var RunMigrationFiles = runMigrations
