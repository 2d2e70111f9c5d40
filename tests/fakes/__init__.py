"""Local fakes of the networks Kindling talks to: real HTTP servers on 127.0.0.1."""
