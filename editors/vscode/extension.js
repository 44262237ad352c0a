// The rldsl extension: starts `rldsl lsp` (the language server, over standard input and output)
// for every .rlm file. Highlighting comes from the TextMate grammar declared in package.json.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("rldsl.server");
  const server = {
    command: settings.get("command", "rldsl"),
    args: ["lsp", ...settings.get("args", [])],
    transport: TransportKind.stdio,
  };
  client = new LanguageClient("rldsl", "rldsl language server", server, {
    documentSelector: [
      { scheme: "file", language: "rlm" },
      { scheme: "untitled", language: "rlm" },
    ],
  });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
