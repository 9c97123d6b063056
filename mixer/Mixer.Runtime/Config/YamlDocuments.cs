using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mixer.Runtime.Config;

/// <summary>
/// Splits a YAML file into documents and parses each on its own, so a syntax error costs only
/// its own document (as Istio's fs store, which split on <c>---</c> lines before parsing).
/// </summary>
internal static class YamlDocuments
{
    /// <summary>One document: its tree (null when empty or invalid), where it starts, its digest.</summary>
    internal readonly record struct Document(ConfigNode? Root, SourcePosition Position, string Digest, ConfigError? Error);

    public static IEnumerable<Document> Parse(string file, string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var start = 0;
        for (var i = 0; i <= lines.Length; i++)
        {
            var boundary = i == lines.Length || IsSeparator(lines[i]);
            if (!boundary)
            {
                continue;
            }

            if (i > start)
            {
                var chunk = string.Join('\n', lines, start, i - start);
                if (!string.IsNullOrWhiteSpace(StripComments(chunk)))
                {
                    yield return ParseChunk(file, chunk, start);
                }
            }

            start = i + 1;
        }
    }

    private static bool IsSeparator(string line) =>
        line.StartsWith("---", StringComparison.Ordinal) && (line.Length == 3 || char.IsWhiteSpace(line[3]));

    private static string StripComments(string chunk) =>
        string.Join('\n', chunk.Split('\n').Where(l => !l.TrimStart().StartsWith('#') && !l.TrimStart().StartsWith('%')));

    private static Document ParseChunk(string file, string chunk, int lineOffset)
    {
        var digest = System.Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(chunk)));
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(chunk));
            if (stream.Documents.Count == 0)
            {
                return new Document(null, new SourcePosition(file, lineOffset + 1), digest, null);
            }

            var root = stream.Documents[0].RootNode;
            return new Document(Convert(file, root, lineOffset), Position(file, root.Start, lineOffset), digest, null);
        }
        catch (YamlException e)
        {
            var position = Position(file, e.Start, lineOffset);
            var reason = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
            return new Document(null, position, digest, new ConfigError(position, null, string.Empty, $"YAML syntax: {Trim(reason)}"));
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet throws this for some unterminated structures; the chunk start is the best position.
            var position = new SourcePosition(file, lineOffset + 1);
            return new Document(null, position, digest, new ConfigError(position, null, string.Empty, $"YAML syntax: the document is not well-formed ({e.Message})"));
        }
    }

    private static string Trim(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 1, Idx: …) - (Line: …): "; our position says that already.
        var i = message.LastIndexOf("): ", StringComparison.Ordinal);
        return i >= 0 ? message[(i + 3)..] : message;
    }

    private static SourcePosition Position(string file, Mark mark, int lineOffset) =>
        new(file, (int)Math.Max(1, mark.Line) + lineOffset);

    private static ConfigNode Convert(string file, YamlNode node, int lineOffset)
    {
        var position = Position(file, node.Start, lineOffset);
        switch (node)
        {
            case YamlScalarNode s:
                return new ConfigScalar(position, s.Value ?? string.Empty, s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, s.Style == ScalarStyle.Literal);
            case YamlSequenceNode seq:
                return new ConfigList(position, seq.Children.Select(c => Convert(file, c, lineOffset)).ToList());
            case YamlMappingNode map:
                var entries = new List<KeyValuePair<string, ConfigNode>>(map.Children.Count);
                foreach (var (k, v) in map.Children)
                {
                    var key = k is YamlScalarNode ks ? ks.Value ?? string.Empty : k.ToString();
                    entries.Add(new KeyValuePair<string, ConfigNode>(key, Convert(file, v, lineOffset)));
                }

                return new ConfigMap(position, entries);
            default:
                return new ConfigScalar(position, string.Empty, false);
        }
    }
}
