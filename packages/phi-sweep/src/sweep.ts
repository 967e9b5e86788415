// Finds identifiers in text: by shape (SSN, US phone, email, MRN, a birth date under a birth-date
// key) and by literal value (a given patient's id, names, SSN, phone…, also URL-encoded, JSON-escaped,
// base64-encoded, or as bare digits).
// A finding says where and what kind, never the matched text: sweep reports land in CI logs too.

export type FindingKind = 'ssn' | 'us-phone' | 'email' | 'mrn' | 'birth-date' | 'identifier';

export interface Finding {
  readonly kind: FindingKind;
  /** For `identifier`: which kind of identifier (e.g. `ssn`, `name`), never its value. */
  readonly label?: string;
  readonly line: number;
  readonly column: number;
}

const SHAPES: readonly (readonly [FindingKind, RegExp])[] = [
  ['ssn', /(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])/g],
  ['us-phone', /(?<![\w-])(?:\+1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])/g],
  ['email', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g],
  ['mrn', /\bMRN\b["']?\s*[:#=]?\s*["']?\d[\d-]{3,}/gi],
  ['birth-date', /["']?\b(?:birth_?date|date_?of_?birth|dob)\b["']?\s*[:=]\s*["']?\d{4}-\d{2}-\d{2}/gi],
];

// RFC 2606 / 6761 names reserved for examples and tests are not anyone's address.
const RESERVED_EMAIL = /@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:example|invalid|test|localhost))$/i;

const position = (text: string, index: number): { line: number; column: number } => {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
};

/** Identifier shapes in `text`. */
export const findShapes = (text: string): Finding[] => {
  const findings: Finding[] = [];
  for (const [kind, pattern] of SHAPES) {
    for (const match of text.matchAll(pattern)) {
      if (kind === 'email' && RESERVED_EMAIL.test(match[0])) continue;
      findings.push({ kind, ...position(text, match.index) });
    }
  }
  return findings.sort((a, b) => a.line - b.line || a.column - b.column);
};

/** One identifier to look for, labelled by what it is. */
export interface Identifier {
  readonly label: string;
  readonly value: string;
}

/** A base64 run this short could be chance; longer ones name the value. */
const MIN_BASE64_FRAGMENT = 12;

/**
 * The value base64-encoded (standard and URL-safe), also as it appears inside a longer base64 text:
 * there it starts at byte offset 0, 1 or 2 of a 3-byte group, and only the characters that depend on
 * the value's bytes alone are kept.
 */
const base64Forms = (value: string): string[] => {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [bytes.toString('base64')];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const first = [0, 2, 3][offset] as number; // characters mixed with the bytes before the value
    const end = Math.floor((offset + bytes.length) / 3) * 4; // characters mixed with the bytes after it
    const fragment = encoded.slice(first, end);
    if (fragment.length >= MIN_BASE64_FRAGMENT) forms.push(fragment);
  }
  return forms.flatMap((form) => [form, form.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')]);
};

/**
 * The forms in which a value can land in a sink: as is, URL-encoded, JSON-escaped (also with every
 * non-ASCII character as \uXXXX), base64, and for a number written with separators (an SSN, a phone
 * number) its digits alone.
 */
export const encodedForms = (value: string): string[] => {
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const digits = /^[\d\s().+-]+$/.test(value) ? value.replace(/\D/g, '') : '';
  const forms = new Set([value, encodeURIComponent(value), json, asciiJson, ...(digits.length >= 7 ? [digits] : []), ...base64Forms(value)]);
  return [...forms].filter((form) => form !== '');
};

const ALPHANUMERIC = /[A-Za-z0-9]/;
/** An alphanumeric form at least this long counts anywhere; a shorter one only as a whole token. */
const DISTINCTIVE_LENGTH = 12;

/**
 * Occurrences of any identifier (in any encoded form, in any case) in `text`. A short purely
 * alphanumeric form (a postal code, a numeric id, an SSN's digits) counts only as a whole token:
 * inside a hex hash or a UUID it is chance, not a leak. Forms with separators (SSNs, phones, names)
 * and long ones (a base64 run) count wherever they appear.
 */
export const findIdentifiers = (text: string, identifiers: readonly Identifier[]): Finding[] => {
  const findings: Finding[] = [];
  // Case does not hide an identifier: an upper-cased id or a name in capitals is still a leak.
  const folded = text.toLowerCase();
  for (const identifier of identifiers) {
    const seen = new Set<number>(); // one finding per place, however many forms match there
    for (const form of new Set(encodedForms(identifier.value).map((f) => f.toLowerCase()))) {
      const wholeTokenOnly = /^[a-z0-9]+$/.test(form) && form.length < DISTINCTIVE_LENGTH;
      for (let i = folded.indexOf(form); i !== -1; i = folded.indexOf(form, i + 1)) {
        const embedded = wholeTokenOnly && (ALPHANUMERIC.test(folded[i - 1] ?? '') || ALPHANUMERIC.test(folded[i + form.length] ?? ''));
        if (!embedded && !seen.has(i)) {
          seen.add(i);
          findings.push({ kind: 'identifier', label: identifier.label, ...position(folded, i) });
        }
      }
    }
  }
  return findings;
};

const IDENTIFIER_TYPE_LABELS: Readonly<Record<string, string>> = {
  SS: 'ssn',
  MR: 'mrn',
  DL: 'drivers-licence',
  PPN: 'passport',
};

/**
 * The identifiers of every Patient in a FHIR Bundle: id, identifier values (SSN, MRN, licence,
 * passport…), names, telecom values, address lines and postal codes, birth date. Values shorter
 * than four characters are left out (they would match everywhere).
 */
export const identifiersOfBundle = (bundle: { entry?: readonly { resource?: unknown }[] | undefined }): Identifier[] => {
  const labels = new Map<string, string[]>();
  const add = (label: string, value: unknown): void => {
    if (typeof value !== 'string' || value.trim().length < 4) return;
    const known = labels.get(value.trim());
    if (known === undefined) labels.set(value.trim(), [label]);
    else if (!known.includes(label)) known.push(label);
  };
  for (const entry of bundle.entry ?? []) {
    const patient = entry.resource as fhir4.Patient | undefined;
    if (patient?.resourceType !== 'Patient') continue;
    add('patient-id', patient.id);
    for (const identifier of patient.identifier ?? []) {
      const code = identifier.type?.coding?.[0]?.code ?? '';
      add(IDENTIFIER_TYPE_LABELS[code] ?? 'identifier', identifier.value);
    }
    for (const name of patient.name ?? []) {
      add('name', [...(name.given ?? []), name.family].filter(Boolean).join(' '));
      add('family-name', name.family);
    }
    for (const telecom of patient.telecom ?? []) add(telecom.system === 'email' ? 'email' : 'phone', telecom.value);
    for (const address of patient.address ?? []) {
      for (const line of address.line ?? []) add('address', line);
      add('postal-code', address.postalCode);
    }
    add('birth-date', patient.birthDate);
  }
  return [...labels].map(([value, names]) => ({ label: names.join('/'), value }));
};
