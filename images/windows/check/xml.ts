// A small XML well-formedness check for the answer files (no XML parser is installed here and
// installing one was not allowed): one root element, tags nested and closed in order, attributes
// quoted and unique per element, `<` never in attribute values, only the predefined and numeric
// entity references, comments, processing instructions and CDATA terminated. Not a validating parser:
// it does not check the unattend schema, and it does not read DTDs (answer files have none).
import { InputError } from '../../../lib/errors.ts';
import { lineCol } from './text.ts';

const NAME = /^[A-Za-z_:][-A-Za-z0-9._:]*/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/;

export interface XmlSummary {
  root: string;
  elements: number;
}

/** Throws InputError (file, line, column) at the first well-formedness error. */
export function checkXmlWellFormed(file: string, text: string): XmlSummary {
  const fail = (offset: number, detail: string): never => {
    throw new InputError({ file, ...lineCol(text, offset) }, detail);
  };
  const stack: { name: string; at: number }[] = [];
  let root: string | undefined;
  let rootClosed = false;
  let elements = 0;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const checkText = (from: number, to: number) => {
    for (let j = from; j < to; j++) {
      const c = text[j]!;
      if (c === '&' && !ENTITY.test(text.slice(j, j + 12))) fail(j, 'a bare & (write &amp;) or an unknown entity');
      if (c === '>' && text.startsWith(']]>', j - 2)) fail(j, "']]>' is not allowed in text");
      if (!/\s/.test(c) && stack.length === 0) fail(j, rootClosed ? 'text after the root element' : 'text before the root element');
    }
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      checkText(i, text.length);
      break;
    }
    checkText(i, lt);
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) fail(lt, 'comment is not closed with -->');
      if (text.slice(lt + 4, end).includes('--')) fail(lt, "'--' inside a comment");
      i = end + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      if (stack.length === 0) fail(lt, 'CDATA outside the root element');
      const end = text.indexOf(']]>', lt);
      if (end < 0) fail(lt, 'CDATA section is not closed with ]]>');
      i = end + 3;
    } else if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt);
      if (end < 0) fail(lt, 'processing instruction is not closed with ?>');
      const target = NAME.exec(text.slice(lt + 2))?.[0];
      if (!target) fail(lt, 'processing instruction without a target name');
      if (target!.toLowerCase() === 'xml' && lt !== (text.charCodeAt(0) === 0xfeff ? 1 : 0)) fail(lt, 'the XML declaration must come first in the file');
      i = end + 2;
    } else if (text.startsWith('<!', lt)) {
      fail(lt, 'DOCTYPE and other declarations are not expected in an answer file');
    } else if (text[lt + 1] === '/') {
      const name = NAME.exec(text.slice(lt + 2))?.[0];
      if (!name) fail(lt, 'end tag without a name');
      const after = lt + 2 + name!.length;
      const gt = text.indexOf('>', after);
      if (gt < 0 || text.slice(after, gt).trim() !== '') fail(after, `end tag </${name}> is not closed with >`);
      const open = stack.pop();
      if (!open) fail(lt, `end tag </${name}> without a start tag`);
      if (open!.name !== name) fail(lt, `end tag </${name}> closes <${open!.name}> (opened at line ${lineCol(text, open!.at).line})`);
      if (stack.length === 0) rootClosed = true;
      i = gt + 1;
    } else {
      const name = NAME.exec(text.slice(lt + 1))?.[0];
      if (!name) fail(lt, "'<' that starts no tag (write &lt;)");
      if (stack.length === 0) {
        if (rootClosed || root !== undefined) fail(lt, `a second root element <${name}>`);
        root = name;
      }
      elements++;
      let j = lt + 1 + name!.length;
      const seen = new Set<string>();
      for (;;) {
        const ws = /^\s*/.exec(text.slice(j))![0].length;
        j += ws;
        if (text.startsWith('/>', j)) {
          j += 2;
          if (stack.length === 0) rootClosed = true;
          break;
        }
        if (text[j] === '>') {
          j += 1;
          stack.push({ name: name!, at: lt });
          break;
        }
        if (j >= text.length) fail(lt, `start tag <${name}> is not closed`);
        if (ws === 0) fail(j, `attributes of <${name}> must be separated by white space`);
        const attr = NAME.exec(text.slice(j))?.[0];
        if (!attr) fail(j, `unexpected ${JSON.stringify(text[j])} in start tag <${name}>`);
        if (seen.has(attr!)) fail(j, `attribute ${attr} repeated in <${name}>`);
        seen.add(attr!);
        j += attr!.length;
        const eq = /^\s*=\s*/.exec(text.slice(j));
        if (!eq) fail(j, `attribute ${attr} of <${name}> has no value`);
        j += eq![0].length;
        const q = text[j];
        if (q !== '"' && q !== "'") fail(j, `the value of attribute ${attr} must be quoted`);
        const close = text.indexOf(q!, j + 1);
        if (close < 0) fail(j, `the value of attribute ${attr} is not closed`);
        const value = text.slice(j + 1, close);
        if (value.includes('<')) fail(j + 1 + value.indexOf('<'), `'<' in the value of attribute ${attr}`);
        const amp = value.search(/&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)/);
        if (amp >= 0) fail(j + 1 + amp, `a bare & in the value of attribute ${attr}`);
        j = close + 1;
      }
      i = j;
    }
  }
  if (stack.length) fail(stack.at(-1)!.at, `<${stack.at(-1)!.name}> is never closed`);
  if (root === undefined) fail(0, 'no root element');
  return { root: root!, elements };
}
