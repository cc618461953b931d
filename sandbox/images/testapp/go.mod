module fedlet.local/testapp

go 1.24
