// XML text for the writers that emit XML (JUnit). Everything that came from a guest or a run folder
// goes through xmlText/xmlAttr: console output can hold control bytes that are not legal in XML 1.0
// even escaped, so they are replaced, not escaped.

// Legal XML 1.0 characters: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
// A lone surrogate is not legal either (JavaScript strings can hold one).
const ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlClean(s: string): string {
  return s.replace(ILLEGAL, '\uFFFD');
}

export function xmlText(s: string): string {
  return xmlClean(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  // Newlines and tabs in attributes are normalised to spaces by parsers unless written as references.
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

export function attrs(a: Record<string, string | number | undefined | null>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}
