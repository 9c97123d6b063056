using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;
using ValueCase = Istio.Mixer.V1.Attributes.Types.AttributeValue.ValueOneofCase;

namespace Mixer.Client;

/// <summary>
/// Builds one <see cref="ReportRequest"/> with DELTA_ENCODING, Istio 1.0's only semantics: the
/// first set is sent whole, each later one only with the attributes that were added or whose value
/// changed since the set before it. All sets share one word list, sent once as
/// <c>default_words</c>. Not thread-safe: one builder per batch being filled. The builder keeps the
/// last set to compare the next one with (no copy, on the report hot path): do not change a set
/// after adding it.
/// </summary>
/// <remarks>
/// Delta encoding cannot say "this attribute is gone". As Istio's proxy does, a set that lacks an
/// attribute the previous set had is refused (<see cref="TryAdd"/> returns false, the batch is left
/// as it was): send what is built and start a new batch with that set. So a server applying each
/// set on top of the ones before it sees exactly the sets that were added. Each set is written
/// straight into the request's wire bytes as it is added (the same bytes Google.Protobuf writes for
/// the message), so a batch costs one buffer, not a message object with eight map fields per set.
/// </remarks>
public sealed class ReportBatchBuilder
{
    // Field numbers of istio.mixer.v1.ReportRequest and CompressedAttributes (mixer/v1/report.proto, attributes.proto).
    private const int RequestAttributes = 1;
    private const int RequestDefaultWords = 2;
    private const int RequestGlobalWordCount = 3;
    private const int FieldStrings = 2;
    private const int FieldStringMaps = 9;
    private const int Varint = 0;
    private const int Fixed64 = 1;
    private const int Delimited = 2;

    private readonly AttributeCompressor _compressor;
    private readonly List<KeyValuePair<string, AttributeValue>> _changed = [];
    private readonly WireWriter _element = new(1024);
    private readonly WireWriter _body = new();
    private Attributes? _last;
    private WordTable? _words;
    private WordTable? _spareWords;
    private int _count;

    internal ReportBatchBuilder(AttributeCompressor compressor) => _compressor = compressor;

    /// <summary>Called with the set before the last one each time a set is added, and with the last one when the batch is built.</summary>
    internal Action<Attributes>? Released { get; set; }

    /// <summary>How many sets the batch holds.</summary>
    public int Count => _count;

    /// <summary>
    /// Adds <paramref name="attributes"/> as the next set, encoded as a delta on the set before.
    /// False, leaving the batch unchanged, when the set lacks an attribute the previous set had.
    /// </summary>
    /// <exception cref="ArgumentException">An attribute has no value set (the batch is left unchanged).</exception>
    public bool TryAdd(Attributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);

        // One pass: check every value, find what changed, and count how many of the previous set's
        // names this set has (its names are distinct, so all of them iff the count matches). The
        // previous state is the last set added: it held every name of the one before it. Sets built
        // the same way list their names in the same order, so the previous set is walked alongside
        // and a name found at the same place (the same string, usually) costs no hash lookup.
        _changed.Clear();
        var kept = 0;
        var previous = _last?.Attributes_;
        using var walk = previous?.GetEnumerator();
        foreach (var attribute in attributes.Attributes_)
        {
            var value = attribute.Value;
            if (value is null || value.ValueCase == ValueCase.None)
            {
                _changed.Clear();
                throw new ArgumentException($"attribute '{attribute.Key}' has no value: set one of its typed fields", nameof(attributes));
            }

            if (previous is not null)
            {
                AttributeValue? before;
                if (walk!.MoveNext() && (ReferenceEquals(walk.Current.Key, attribute.Key) || walk.Current.Key == attribute.Key))
                {
                    before = walk.Current.Value;
                }
                else if (!previous.TryGetValue(attribute.Key, out before))
                {
                    before = null;
                }

                if (before is not null)
                {
                    kept++;
                    if (ReferenceEquals(before, value) || before.Equals(value))
                    {
                        continue;
                    }
                }
            }

            _changed.Add(attribute);
        }

        if (kept != (previous?.Count ?? 0))
        {
            _changed.Clear();
            return false;
        }

        // The word count is fixed when the batch starts: its indexes and its global_word_count must agree.
        if (_words is null)
        {
            _words = _spareWords ?? new WordTable(0);
            _words.Reset(_compressor.GlobalWordCount);
        }
        _element.Reset();
        for (var field = FieldStrings; field <= FieldStringMaps; field++)
        {
            foreach (var (name, value) in _changed)
            {
                if (FieldOf(value.ValueCase) == field)
                {
                    WriteEntry(field, _words.Index(name), value);
                }
            }
        }

        var released = _last;
        _last = attributes;
        _changed.Clear();
        if (released is not null && !ReferenceEquals(released, attributes))
        {
            Released?.Invoke(released);
        }

        _body.Tag(RequestAttributes, Delimited);
        _body.Bytes(_element.Written);
        _count++;
        return true;
    }

    /// <summary>The request holding every set added so far; the builder starts again empty.</summary>
    public ReportRequest Build()
    {
        using var encoded = BuildEncoded();
        return encoded.ToRequest();
    }

    /// <summary>The wire bytes of the request holding every set added so far; the builder starts again empty.</summary>
    internal EncodedReport BuildEncoded()
    {
        var words = _words;
        if (words is not null)
        {
            foreach (var w in words.Words)
            {
                _body.Tag(RequestDefaultWords, Delimited);
                _body.String(w);
            }
        }

        var globalWordCount = words?.GlobalWordCount ?? _compressor.GlobalWordCount;
        if (globalWordCount != 0)
        {
            _body.Tag(RequestGlobalWordCount, Varint);
            _body.Varint((uint)globalWordCount);
        }

        // DELTA_ENCODING is the enum's zero: a proto3 default, not written.
        var (buffer, length) = _body.Detach(Math.Max(4096, _body.Length));
        var result = new EncodedReport(buffer, length, _count);
        if (_last is { } last)
        {
            Released?.Invoke(last);
        }

        _last = null;
        _spareWords = words ?? _spareWords;
        _words = null;
        _count = 0;
        return result;
    }

    private static int FieldOf(ValueCase type) => type switch
    {
        ValueCase.StringValue => 2,
        ValueCase.Int64Value => 3,
        ValueCase.DoubleValue => 4,
        ValueCase.BoolValue => 5,
        ValueCase.TimestampValue => 6,
        ValueCase.DurationValue => 7,
        ValueCase.BytesValue => 8,
        ValueCase.StringMapValue => 9,
        _ => 0,
    };

    // One map entry (key 1: sint32 word index, value 2) of the CompressedAttributes map for the value's type.
    private void WriteEntry(int field, int key, AttributeValue value)
    {
        var w = _element;
        var keySize = 1 + WireWriter.SInt32Size(key);
        switch (value.ValueCase)
        {
            case ValueCase.StringValue:
                var word = _words!.Index(value.StringValue);
                w.Tag(field, Delimited);
                w.Varint((uint)(keySize + 1 + WireWriter.SInt32Size(word)));
                w.Tag(1, Varint);
                w.SInt32(key);
                w.Tag(2, Varint);
                w.SInt32(word);
                break;
            case ValueCase.Int64Value:
                w.Tag(field, Delimited);
                w.Varint((uint)(keySize + 1 + WireWriter.Int64Size(value.Int64Value)));
                w.Tag(1, Varint);
                w.SInt32(key);
                w.Tag(2, Varint);
                w.Int64(value.Int64Value);
                break;
            case ValueCase.DoubleValue:
                w.Tag(field, Delimited);
                w.Varint((uint)(keySize + 1 + 8));
                w.Tag(1, Varint);
                w.SInt32(key);
                w.Tag(2, Fixed64);
                w.Fixed64((ulong)BitConverter.DoubleToInt64Bits(value.DoubleValue));
                break;
            case ValueCase.BoolValue:
                w.Tag(field, Delimited);
                w.Varint((uint)(keySize + 2));
                w.Tag(1, Varint);
                w.SInt32(key);
                w.Tag(2, Varint);
                w.Varint(value.BoolValue ? 1u : 0u);
                break;
            case ValueCase.TimestampValue:
                WriteTime(field, key, keySize, value.TimestampValue.Seconds, value.TimestampValue.Nanos);
                break;
            case ValueCase.DurationValue:
                WriteTime(field, key, keySize, value.DurationValue.Seconds, value.DurationValue.Nanos);
                break;
            case ValueCase.BytesValue:
                var bytes = value.BytesValue.Span;
                w.Tag(field, Delimited);
                w.Varint((uint)(keySize + 1 + WireWriter.LengthDelimitedSize(bytes.Length)));
                w.Tag(1, Varint);
                w.SInt32(key);
                w.Tag(2, Delimited);
                w.Bytes(bytes);
                break;
            case ValueCase.StringMapValue:
                WriteStringMap(field, key, keySize, value.StringMapValue);
                break;
            default:
                break;
        }
    }

    // google.protobuf.Timestamp and Duration share a shape: seconds (1, int64), nanos (2, int32), zeros left out.
    private void WriteTime(int field, int key, int keySize, long seconds, int nanos)
    {
        var inner = (seconds != 0 ? 1 + WireWriter.Int64Size(seconds) : 0) + (nanos != 0 ? 1 + WireWriter.Int64Size(nanos) : 0);
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(keySize + 1 + WireWriter.LengthDelimitedSize(inner)));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Delimited);
        w.Varint((uint)inner);
        if (seconds != 0)
        {
            w.Tag(1, Varint);
            w.Int64(seconds);
        }

        if (nanos != 0)
        {
            w.Tag(2, Varint);
            w.Int32(nanos);
        }
    }

    // istio.mixer.v1.StringMap: entries (1), a map<sint32, sint32> of word indexes.
    private void WriteStringMap(int field, int key, int keySize, Attributes.Types.StringMap map)
    {
        var words = _words!;
        Span<(int K, int V)> small = stackalloc (int, int)[16];
        var pairs = map.Entries.Count <= small.Length ? small[..map.Entries.Count] : new (int, int)[map.Entries.Count];
        var i = 0;
        var inner = 0;
        foreach (var (k, v) in map.Entries)
        {
            var pair = (words.Index(k), words.Index(v));
            pairs[i++] = pair;
            inner += 1 + WireWriter.LengthDelimitedSize(2 + WireWriter.SInt32Size(pair.Item1) + WireWriter.SInt32Size(pair.Item2));
        }

        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(keySize + 1 + WireWriter.LengthDelimitedSize(inner)));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Delimited);
        w.Varint((uint)inner);
        foreach (var (k, v) in pairs)
        {
            w.Tag(1, Delimited);
            w.Varint((uint)(2 + WireWriter.SInt32Size(k) + WireWriter.SInt32Size(v)));
            w.Tag(1, Varint);
            w.SInt32(k);
            w.Tag(2, Varint);
            w.SInt32(v);
        }
    }
}

/// <summary>
/// One Report request's wire bytes in a buffer rented from the shared pool, and how many sets it
/// holds; disposing gives the buffer back.
/// </summary>
internal sealed class EncodedReport(byte[] buffer, int length, int sets) : IDisposable
{
    private byte[]? _buffer = buffer;

    public int Length { get; } = length;

    public int Sets { get; } = sets;

    public ReadOnlySpan<byte> Bytes => (_buffer ?? throw new ObjectDisposedException(nameof(EncodedReport))).AsSpan(0, Length);

    public ReportRequest ToRequest() => ReportRequest.Parser.ParseFrom(Bytes);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(b);
        }
    }
}
