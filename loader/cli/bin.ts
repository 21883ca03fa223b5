#!/usr/bin/env node
import { createRequire } from 'node:module';

// The package's bin is bin.cjs. This file stays for links made when the bin
// was bin.js: npx keeps the bin links of a local package it ran once, in its
// cache, from then on, and they would point at nothing.
createRequire(import.meta.url)('./bin.cjs');
