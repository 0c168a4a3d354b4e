/*-------------------------------------------------------------------------
 *
 * text.c
 *		Normalizing query texts and extracting their comments.
 *
 * Texts are normalized by a small lexer of SQL rather than from the
 * constant locations the query jumble records.  It needs nothing but the
 * text, so the same code serves statements that were parsed, utility
 * statements (whose literals, a password say, the jumble does not record)
 * and statements that failed before parse analysis, where there is no
 * jumble at all.  It never raises an error: an unterminated literal simply
 * runs to the end of the text.  That matters because it also runs inside
 * emit_log_hook.
 *
 * It is called only when a new entry is made, never for a statement whose
 * entry exists, and with no lock held.  Its output is bounded by the
 * caller's limit, so that a huge statement costs no more memory than the
 * text kept; its input is whatever the caller hands it, and the error hook
 * hands it no more than that limit either.
 *
 * Some values are masked whatever pg_stat_monitor.pgsm_normalized_query
 * says: the value after the keyword PASSWORD, and any literal that contains
 * the word "password"; and a token of the statement that the message of a
 * syntax error quotes, when the text masks it (pgsm_mask_near_token).
 * Messages of data and constraint errors have the values they quote masked
 * (pgsm_mask_message).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/parser.h"
#include "parser/scansup.h"

#include "pgsm.h"

typedef enum TokenKind
{
	TOK_SPACE,
	TOK_COMMENT,				/* -- or a C-style comment */
	TOK_CONST,					/* a literal: number, string, bit string */
	TOK_PARAM,					/* $n */
	TOK_OTHER					/* identifier, keyword, operator, ... */
} TokenKind;

typedef struct Lexer
{
	const char *s;
	int			len;
	int			pos;
} Lexer;

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

static inline bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80;
}

static inline bool
is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skip a quoted run starting at the opening quote; "backslash" for E''. */
static void
skip_quoted(Lexer *lx, char quote, bool backslash)
{
	lx->pos++;
	while (lx->pos < lx->len)
	{
		char		c = lx->s[lx->pos];

		if (backslash && c == '\\' && lx->pos + 1 < lx->len)
			lx->pos += 2;
		else if (c == quote)
		{
			/* a doubled quote stands for itself */
			if (lx->pos + 1 < lx->len && lx->s[lx->pos + 1] == quote)
				lx->pos += 2;
			else
			{
				lx->pos++;
				return;
			}
		}
		else
			lx->pos++;
	}
}

/*
 * At a '$': a parameter ($1), a dollar-quoted string ($tag$...$tag$), or a
 * lone character.
 */
static TokenKind
lex_dollar(Lexer *lx)
{
	int			start = lx->pos;
	int			p = start + 1;

	if (p < lx->len && is_digit(lx->s[p]))
	{
		while (p < lx->len && is_digit(lx->s[p]))
			p++;
		lx->pos = p;
		return TOK_PARAM;
	}

	/* a dollar-quote tag is an identifier without '$', or empty */
	if (p < lx->len && is_ident_start((unsigned char) lx->s[p]))
		while (p < lx->len && is_ident_char((unsigned char) lx->s[p]) &&
			   lx->s[p] != '$')
			p++;
	if (p < lx->len && lx->s[p] == '$')
	{
		int			taglen = p - start + 1;

		p++;
		while (p + taglen <= lx->len)
		{
			if (lx->s[p] == '$' &&
				memcmp(lx->s + p, lx->s + start, taglen) == 0)
			{
				lx->pos = p + taglen;
				return TOK_CONST;
			}
			p++;
		}
		lx->pos = lx->len;
		return TOK_CONST;
	}

	lx->pos = start + 1;
	return TOK_OTHER;
}

/* A number: 12, 1.5, .5, 1e-3. */
static void
skip_number(Lexer *lx)
{
	const char *s = lx->s;
	int			p = lx->pos;

	while (p < lx->len && is_digit(s[p]))
		p++;
	if (p < lx->len && s[p] == '.' && !(p + 1 < lx->len && s[p + 1] == '.'))
	{
		p++;
		while (p < lx->len && is_digit(s[p]))
			p++;
	}
	if (p < lx->len && (s[p] == 'e' || s[p] == 'E'))
	{
		int			q = p + 1;

		if (q < lx->len && (s[q] == '+' || s[q] == '-'))
			q++;
		if (q < lx->len && is_digit(s[q]))
		{
			while (q < lx->len && is_digit(s[q]))
				q++;
			p = q;
		}
	}
	lx->pos = p;
}

/* Read the next token; returns its kind, and lx->pos moves past it. */
static TokenKind
next_token(Lexer *lx)
{
	const char *s = lx->s;
	int			p = lx->pos;
	char		c = s[p];
	char		c1 = p + 1 < lx->len ? s[p + 1] : '\0';

	if (is_space(c))
	{
		while (lx->pos < lx->len && is_space(s[lx->pos]))
			lx->pos++;
		return TOK_SPACE;
	}

	if (c == '-' && c1 == '-')
	{
		while (lx->pos < lx->len && s[lx->pos] != '\n')
			lx->pos++;
		return TOK_COMMENT;
	}

	if (c == '/' && c1 == '*')
	{
		int			depth = 1;

		lx->pos += 2;
		while (lx->pos < lx->len && depth > 0)
		{
			if (s[lx->pos] == '*' && lx->pos + 1 < lx->len &&
				s[lx->pos + 1] == '/')
			{
				depth--;
				lx->pos += 2;
			}
			else if (s[lx->pos] == '/' && lx->pos + 1 < lx->len &&
					 s[lx->pos + 1] == '*')
			{
				depth++;
				lx->pos += 2;
			}
			else
				lx->pos++;
		}
		return TOK_COMMENT;
	}

	/*
	 * A plain '...' (and N'...') has backslash escapes when
	 * standard_conforming_strings is off, as in E'...'; B'...' and X'...'
	 * never have.
	 */
	if (c == '\'')
	{
		skip_quoted(lx, '\'', !standard_conforming_strings);
		return TOK_CONST;
	}

	if (c1 == '\'' && strchr("eEbBxXnN", c) != NULL)
	{
		lx->pos++;
		skip_quoted(lx, '\'',
					c == 'e' || c == 'E' ||
					((c == 'n' || c == 'N') && !standard_conforming_strings));
		return TOK_CONST;
	}

	/* U&'...' is a string, U&"..." an identifier */
	if ((c == 'u' || c == 'U') && c1 == '&' && p + 2 < lx->len &&
		(s[p + 2] == '\'' || s[p + 2] == '"'))
	{
		char		q = s[p + 2];

		lx->pos += 2;
		skip_quoted(lx, q, false);
		return q == '\'' ? TOK_CONST : TOK_OTHER;
	}

	if (c == '"')
	{
		skip_quoted(lx, '"', false);
		return TOK_OTHER;
	}

	if (c == '$')
		return lex_dollar(lx);

	if (is_digit(c) || (c == '.' && is_digit(c1)))
	{
		skip_number(lx);
		return TOK_CONST;
	}

	if (is_ident_start((unsigned char) c))
	{
		while (lx->pos < lx->len && is_ident_char((unsigned char) s[lx->pos]))
			lx->pos++;
		return TOK_OTHER;
	}

	lx->pos++;
	return TOK_OTHER;
}

/* Is the token the keyword "word" (given in lower case), in any case? */
static inline bool
is_keyword(const char *tok, int len, const char *word)
{
	return len == strlen(word) && pg_strncasecmp(tok, word, len) == 0;
}

/* Does a literal contain the word "password", in any case? */
static bool
mentions_password(const char *tok, int len)
{
	for (int i = 0; i + 8 <= len; i++)
		if ((tok[i] == 'p' || tok[i] == 'P') &&
			pg_strncasecmp(tok + i, "password", 8) == 0)
			return true;
	return false;
}

/*
 * What the scanner knows of the statement it is in, to find passwords: its
 * first two words (CREATE USER, ALTER ROLE, ...), and whether the last
 * token was the keyword PASSWORD.
 */
typedef struct StmtState
{
	int			words;			/* words since the statement began */
	bool		create_or_alter;
	bool		role_stmt;		/* CREATE or ALTER, then ROLE, USER, GROUP */
	bool		after_password;
	bool		dml;			/* starts with SELECT, INSERT, WITH, ... */
	uint8		after_is;		/* 1 after IS, 2 after IS NOT, else 0 */
} StmtState;

/*
 * The first words of statements whose NULLs are constants to the parser,
 * as the jumble records them: the statements pg_stat_statements normalizes.
 */
static const char *const dml_words[] = {
	"select", "insert", "update", "delete", "merge", "with", "values",
	"table"
};

/*
 * Is this token a secret, to be masked whatever the normalization?  The
 * value after PASSWORD is one: a literal or quoted identifier anywhere
 * (OPTIONS (password '...') too), and in a role statement any word but
 * NULL, since "PASSWORD secret" there is a typo the parser rejects, and
 * the rejected text reaches the error hook as typed.  A literal that
 * contains the word "password" (a DO body, a connection string) is one too.
 * Blanks and comments are not passed here.
 */
static bool
note_token(StmtState *st, TokenKind kind, const char *tok, int len,
		   bool normalize)
{
	bool		quoted_ident = kind == TOK_OTHER &&
		(tok[0] == '"' || (len > 2 && tok[1] == '&'));
	bool		word = kind == TOK_OTHER && !quoted_ident &&
		is_ident_start((unsigned char) tok[0]);
	bool		secret = false;

	if (st->after_password)
		secret = kind == TOK_CONST || quoted_ident ||
			(word && st->role_stmt && !is_keyword(tok, len, "null"));
	else if (kind == TOK_CONST && !normalize)
		secret = mentions_password(tok, len);

	if (kind == TOK_OTHER && len == 1 && tok[0] == ';')
		memset(st, 0, sizeof(StmtState));
	else if (word && ++st->words <= 2)
	{
		if (st->words == 1)
		{
			st->create_or_alter = is_keyword(tok, len, "create") ||
				is_keyword(tok, len, "alter");
			for (int i = 0; i < lengthof(dml_words) && !st->dml; i++)
				st->dml = is_keyword(tok, len, dml_words[i]);
		}
		else
			st->role_stmt = st->create_or_alter &&
				(is_keyword(tok, len, "role") ||
				 is_keyword(tok, len, "user") ||
				 is_keyword(tok, len, "group"));
	}
	st->after_password = word && is_keyword(tok, len, "password");
	if (word && is_keyword(tok, len, "is"))
		st->after_is = 1;
	else if (word && st->after_is == 1 && is_keyword(tok, len, "not"))
		st->after_is = 2;
	else
		st->after_is = 0;
	return secret;
}

/* Append at most what "buf" has room for below "max" bytes. */
static void
append_bounded(StringInfo buf, const char *s, int len, int max)
{
	if (len > max - buf->len)
		len = max - buf->len;
	if (len > 0)
		appendBinaryStringInfo(buf, s, len);
}

/* Cut a buffer filled up to "max" bytes at a character boundary. */
static void
clip_buffer(StringInfo buf, int max)
{
	if (buf->len >= max)
	{
		buf->len = pg_mbcliplen(buf->data, buf->len, max);
		buf->data[buf->len] = '\0';
	}
}

/* Append "$n", without the cost of a printf. */
static void
append_param(StringInfo buf, int n)
{
	char		digits[12];
	int			i = sizeof(digits);

	do
	{
		digits[--i] = '0' + n % 10;
		n /= 10;
	} while (n > 0 && i > 1);
	digits[--i] = '$';
	appendBinaryStringInfo(buf, digits + i, sizeof(digits) - i);
}

/*
 * Scan one statement of "len" bytes.  Returns a palloc'd copy of the text
 * of at most "max_len" bytes, cut at a character boundary, with each
 * literal replaced by a parameter symbol when "normalize" is set, and
 * secrets (note_token) replaced whatever "normalize" says; symbols are
 * numbered after the highest parameter the statement already uses, as
 * pg_stat_statements does: the highest $n of its text, or "min_param" when
 * the statement has parameters its text does not show.  Scanning stops when the copy is full, so memory
 * is bounded by "max_len" whatever the statement's length.  When "comments"
 * is not NULL, the C-style comments of the statement are appended to it,
 * separated by ", ", up to PGSM_COMMENTS_MAX_LEN bytes.  When "secret"
 * is not NULL, it is set to whether a secret was masked.
 */
char *
pgsm_scan_query(const char *query, int len, int max_len, bool normalize,
				int min_param, StringInfo comments, bool *secret)
{
	StringInfoData out;
	Lexer		lx;
	StmtState	st;
	int			next_param = Max(min_param, 0) + 1;
	bool		unary_ok = true;	/* may a minus sign start a number? */
	int			run_start = 0;	/* text not yet copied starts here */

	/* first pass, for a text with a '$': the highest $n already used */
	lx.s = query;
	lx.len = len;
	lx.pos = memchr(query, '$', len) != NULL ? 0 : len;
	while (lx.pos < lx.len)
	{
		int			start = lx.pos;

		if (next_token(&lx) == TOK_PARAM)
		{
			int			n = 0;

			for (int i = start + 1; i < lx.pos && n < 100000; i++)
				n = n * 10 + (query[i] - '0');
			if (n >= next_param)
				next_param = n + 1;
		}
	}

	/*
	 * Second pass: the text is copied in runs, from run_start up to a token
	 * that is replaced, rather than a token at a time.
	 */
	memset(&st, 0, sizeof(st));
	if (secret)
		*secret = false;
	initStringInfo(&out);
	lx.pos = 0;
	while (lx.pos < lx.len && out.len + (lx.pos - run_start) < max_len)
	{
		int			start = lx.pos;
		TokenKind	kind;

		/*
		 * A minus sign after an operator or an opening parenthesis belongs to
		 * the number after it, as the parser folds it into the constant:
		 * "a + -5" and "a + 5" are the same statement.
		 */
		if (unary_ok && query[start] == '-' && start + 1 < len &&
			(is_digit(query[start + 1]) ||
			 (query[start + 1] == '.' && start + 2 < len &&
			  is_digit(query[start + 2]))))
		{
			lx.pos++;
			skip_number(&lx);
			kind = TOK_CONST;
		}
		else
			kind = next_token(&lx);

		if (kind != TOK_SPACE && kind != TOK_COMMENT)
		{
			bool		null_const = normalize && kind == TOK_OTHER &&
				st.dml && st.after_is == 0 &&
				is_keyword(query + start, lx.pos - start, "null");
			bool		masked = note_token(&st, kind, query + start,
											lx.pos - start, normalize);

			/* NULL is a constant, except in IS [NOT] NULL */
			if (null_const)
				kind = TOK_CONST;

			unary_ok = kind == TOK_OTHER && lx.pos == start + 1 &&
				strchr("(,=<>+-*/%^|&~!@#?[:", query[start]) != NULL;

			if (masked && secret)
				*secret = true;
			if ((kind == TOK_CONST && normalize) || masked)
			{
				append_bounded(&out, query + run_start, start - run_start,
							   max_len);
				if (out.len < max_len)
					append_param(&out, next_param);
				next_param++;
				run_start = lx.pos;
				continue;
			}
		}

		if (kind == TOK_COMMENT && comments != NULL && query[start] == '/' &&
			comments->len < PGSM_COMMENTS_MAX_LEN)
		{
			if (comments->len > 0)
				appendStringInfoString(comments, ", ");
			append_bounded(comments, query + start, lx.pos - start,
						   PGSM_COMMENTS_MAX_LEN);
			clip_buffer(comments, PGSM_COMMENTS_MAX_LEN);
		}
	}
	append_bounded(&out, query + run_start, lx.pos - run_start, max_len);
	clip_buffer(&out, max_len);
	return out.data;
}

/*
 * pgsm_query_id of a normalized text: a hash of it without its comments and
 * with each run of blanks made one space, so that comments that vary (query
 * tags) and layout do not split a statement, as in pg_stat_monitor.  Never
 * 0, which stands for none.
 */
int64
pgsm_text_id(const char *normalized)
{
	int			len = strlen(normalized);
	char	   *buf = palloc(len + 1);
	int			n = 0;
	bool		blank = false;
	Lexer		lx;
	uint64		h;

	lx.s = normalized;
	lx.len = len;
	lx.pos = 0;
	while (lx.pos < lx.len)
	{
		int			start = lx.pos;
		TokenKind	kind = next_token(&lx);

		if (kind == TOK_SPACE || kind == TOK_COMMENT)
		{
			blank = true;
			continue;
		}
		if (blank && n > 0)
			buf[n++] = ' ';
		blank = false;
		memcpy(buf + n, normalized + start, lx.pos - start);
		n += lx.pos - start;
	}
	h = hash_bytes_extended((const unsigned char *) buf, n, 0);
	pfree(buf);
	return h != 0 ? (int64) h : 1;
}

/*
 * Append to "comments" the C-style comments that stand right before the
 * statement at "location" of "source", with only blanks between them and
 * it, in their order.  From PostgreSQL 18 on, a statement's location skips
 * the comments before it (its text is then the statement alone, as
 * pg_stat_statements shows it); they are its comments all the same.  Up to
 * 17 the location is the start of the string or right after a semicolon,
 * and nothing is found here.  Reads backwards over blanks and comments
 * only, so never into the statement before.
 */
void
pgsm_leading_comments(const char *source, int location, StringInfo comments)
{
	int			starts[8];
	int			ends[8];
	int			n = 0;
	int			p = location;

	while (n < lengthof(starts))
	{
		int			depth = 0;
		int			q;

		while (p > 0 && scanner_isspace(source[p - 1]))
			p--;
		if (p < 4 || source[p - 1] != '/' || source[p - 2] != '*')
			break;
		/* back to the "/ *" that opens it, through nested comments */
		for (q = p; q >= 2; q--)
		{
			if (source[q - 2] == '*' && source[q - 1] == '/')
			{
				depth++;
				q--;
			}
			else if (source[q - 2] == '/' && source[q - 1] == '*')
			{
				depth--;
				q--;
				if (depth == 0)
					break;
			}
		}
		if (depth != 0 || q < 1)
			break;
		starts[n] = q - 1;
		ends[n] = p;
		n++;
		p = q - 1;
	}

	for (int i = n - 1; i >= 0; i--)
	{
		if (comments->len >= PGSM_COMMENTS_MAX_LEN)
			break;
		if (comments->len > 0)
			appendStringInfoString(comments, ", ");
		append_bounded(comments, source + starts[i], ends[i] - starts[i],
					   PGSM_COMMENTS_MAX_LEN);
		clip_buffer(comments, PGSM_COMMENTS_MAX_LEN);
	}
}

/*
 * Words after which a double-quoted part of a message names an object, as
 * in 'violates check constraint "c"', rather than quoting a value.
 */
static const char *const object_words[] = {
	"column", "constraint", "domain", "encoding", "index", "relation",
	"schema", "sequence", "table", "type"
};

/* Does the quote at msg[pos] follow one of object_words and a blank? */
static bool
quotes_object(const char *msg, int pos)
{
	int			end = pos - 1;
	int			start;

	if (end < 1 || msg[end] != ' ')
		return false;
	start = end;
	while (start > 0 && ((msg[start - 1] >= 'a' && msg[start - 1] <= 'z') ||
						 (msg[start - 1] >= 'A' && msg[start - 1] <= 'Z')))
		start--;
	for (int i = 0; i < lengthof(object_words); i++)
		if (is_keyword(msg + start, end - start, object_words[i]))
			return true;
	return false;
}

static inline bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The message of a data or constraint error (SQLSTATE class 22 or 23) with
 * the values it quotes masked; "len" bytes of it are read, and "complete"
 * says whether that is all of it.  Masked: a double-quoted value, from its
 * quote to the last double quote of the message (a value may hold quotes
 * itself); a key value "=(...)", to the last closing parenthesis; a byte
 * written 0x.. (of an invalid character).  Kept: a double-quoted name after
 * one of object_words, numbers, and the rest of the words.  When the
 * message is longer than what is read, a value runs to the end of it.
 */
char *
pgsm_mask_message(const char *msg, int len, bool complete)
{
	StringInfoData out;
	int			last_quote = -1;
	int			last_paren = -1;
	int			i = 0;

	for (int j = 0; j < len; j++)
	{
		if (msg[j] == '"')
			last_quote = j;
		else if (msg[j] == ')')
			last_paren = j;
	}
	if (!complete)
		last_quote = last_paren = len;

	initStringInfo(&out);
	while (i < len)
	{
		char		c = msg[i];

		if (c == '"' && quotes_object(msg, i))
		{
			int			end = i + 1;

			while (end < len && msg[end] != '"')
				end++;
			end = Min(end + 1, len);
			appendBinaryStringInfo(&out, msg + i, end - i);
			i = end;
		}
		else if (c == '"')
		{
			appendStringInfoString(&out, "\"***\"");
			i = last_quote > i ? last_quote + 1 : len;
		}
		else if (c == '=' && i + 1 < len && msg[i + 1] == '(')
		{
			appendStringInfoString(&out, "=(***)");
			i = last_paren > i ? last_paren + 1 : len;
		}
		else if (c == '0' && i + 2 < len && (msg[i + 1] == 'x' ||
											 msg[i + 1] == 'X') &&
				 is_hex(msg[i + 2]) &&
				 (i == 0 || !is_ident_char((unsigned char) msg[i - 1])))
		{
			appendStringInfoString(&out, "0x**");
			i += 2;
			while (i < len && is_hex(msg[i]))
				i++;
		}
		else
		{
			/* up to the next character that may start a value, in one copy */
			int			end = i + 1;

			while (end < len && msg[end] != '"' && msg[end] != '=' &&
				   msg[end] != '0')
				end++;
			appendBinaryStringInfo(&out, msg + i, end - i);
			i = end;
		}
	}
	return out.data;
}

/*
 * A message that quotes a token of its statement, as syntax errors do
 * ('at or near "token"'), with the token masked when it is a literal or a
 * quoted identifier, or when "secret" says the statement holds a password:
 * the message must not show what the statement's text masks.  "len" bytes
 * are read, and "complete" says whether that is all of the message.
 * Returns NULL when there is nothing to mask.
 */
char *
pgsm_mask_near_token(const char *msg, int len, bool complete, bool secret)
{
	static const char near[] = "at or near \"";
	int			nearlen = sizeof(near) - 1;
	int			start = -1;
	int			end = -1;
	StringInfoData out;

	for (int i = 0; i + nearlen <= len && start < 0; i++)
		if (msg[i] == 'a' && memcmp(msg + i, near, nearlen) == 0)
			start = i + nearlen;
	if (start < 0)
		return NULL;

	/* the token runs to the last quote: it may hold quotes itself */
	if (complete)
		for (int i = start; i < len; i++)
			if (msg[i] == '"')
				end = i;
	if (end < 0)
		end = len;

	if (!secret && end > start)
	{
		Lexer		lx;
		TokenKind	kind;

		lx.s = msg + start;
		lx.len = end - start;
		lx.pos = 0;
		kind = next_token(&lx);
		if (kind != TOK_CONST && msg[start] != '"' &&
			!(end - start > 2 && msg[start + 1] == '&' &&
			  msg[start + 2] == '"'))
			return NULL;
	}

	initStringInfo(&out);
	appendBinaryStringInfo(&out, msg, start);
	appendStringInfoString(&out, "***");
	if (end < len)
		appendBinaryStringInfo(&out, msg + end, len - end);
	else
		appendStringInfoChar(&out, '"');
	return out.data;
}
