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
/// attribute the previous set had is refused (<see cref="TryAdd(Attributes)"/> returns false, the batch is left
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
    private readonly List<int> _changedSlots = [];
    private readonly WireWriter _element = new(1024);
    private readonly WireWriter _body = new();
    private object? _last;
    private WordTable? _words;
    private WordTable? _spareWords;
    private int _count;

    internal ReportBatchBuilder(AttributeCompressor compressor) => _compressor = compressor;

    /// <summary>
    /// Called with the message set before the last one each time a set is added, and with the last
    /// one when the batch is built. A record is handed back through its own <see cref="AttributeRecord.Released"/>.
    /// </summary>
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
        if (_last is AttributeRecord)
        {
            // A delta is taken against a set of the same form only.
            return false;
        }

        // One pass: check every value, find what changed, and count how many of the previous set's
        // names this set has (its names are distinct, so all of them iff the count matches). The
        // previous state is the last set added: it held every name of the one before it. Sets built
        // the same way list their names in the same order, so the previous set is walked alongside
        // and a name found at the same place (the same string, usually) costs no hash lookup.
        _changed.Clear();
        var kept = 0;
        var previous = ((Attributes?)_last)?.Attributes_;
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

        var words = StartElement();
        for (var field = FieldStrings; field <= FieldStringMaps; field++)
        {
            foreach (var (name, value) in _changed)
            {
                if (FieldOf(value.ValueCase) == field)
                {
                    WriteEntry(field, words.Index(name), value);
                }
            }
        }

        _changed.Clear();
        FinishElement(attributes);
        return true;
    }

    /// <summary>
    /// Adds <paramref name="record"/> as the next set, encoded as a delta on the record before (slot
    /// by slot: no name is looked up). False, leaving the batch unchanged, when the record lacks an
    /// attribute the record before had, or the set before is not a record of the same layout.
    /// </summary>
    public bool TryAdd(AttributeRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        AttributeRecord? previous = null;
        if (_last is not null)
        {
            previous = _last as AttributeRecord;
            if (previous is null || !ReferenceEquals(previous.Layout, record.Layout))
            {
                return false;
            }
        }

        var slots = record.Slots;
        var before = previous is null ? default : previous.Slots;
        _changedSlots.Clear();
        for (var i = 0; i < slots.Length; i++)
        {
            if (slots[i].Kind == ValueCase.None)
            {
                if (previous is not null && before[i].Kind != ValueCase.None)
                {
                    _changedSlots.Clear();
                    return false;
                }

                continue;
            }

            if (previous is null || !slots[i].SameValue(before[i]))
            {
                _changedSlots.Add(i);
            }
        }

        var words = StartElement();
        var layout = record.Layout;
        for (var field = FieldStrings; field <= FieldStringMaps; field++)
        {
            foreach (var i in _changedSlots)
            {
                if (FieldOf(slots[i].Kind) == field)
                {
                    WriteSlot(field, words.Index(layout.NameOf(i), layout.GlobalIndexOf(i)), slots[i]);
                }
            }
        }

        _changedSlots.Clear();
        FinishElement(record);
        return true;
    }

    /// <summary>Adds a message or a record (see the typed overloads).</summary>
    internal bool TryAdd(object set) => set is AttributeRecord record ? TryAdd(record) : TryAdd((Attributes)set);

    // The word count is fixed when the batch starts: its indexes and its global_word_count must agree.
    private WordTable StartElement()
    {
        if (_words is null)
        {
            _words = _spareWords ?? new WordTable(0);
            _words.Reset(_compressor.GlobalWordCount);
        }

        _element.Reset();
        return _words;
    }

    private void FinishElement(object set)
    {
        var released = _last;
        _last = set;
        if (released is not null && !ReferenceEquals(released, set))
        {
            Release(released);
        }

        _body.Tag(RequestAttributes, Delimited);
        _body.Bytes(_element.Written);
        _count++;
    }

    private void Release(object set)
    {
        if (set is AttributeRecord record)
        {
            record.Released?.Invoke(record);
        }
        else
        {
            Released?.Invoke((Attributes)set);
        }
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
            Release(last);
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
        switch (value.ValueCase)
        {
            case ValueCase.StringValue:
                WriteSInt32(field, key, _words!.Index(value.StringValue));
                break;
            case ValueCase.Int64Value:
                WriteInt64(field, key, value.Int64Value);
                break;
            case ValueCase.DoubleValue:
                WriteFixed64(field, key, (ulong)BitConverter.DoubleToInt64Bits(value.DoubleValue));
                break;
            case ValueCase.BoolValue:
                WriteBool(field, key, value.BoolValue);
                break;
            case ValueCase.TimestampValue:
                WriteTime(field, key, value.TimestampValue.Seconds, value.TimestampValue.Nanos);
                break;
            case ValueCase.DurationValue:
                WriteTime(field, key, value.DurationValue.Seconds, value.DurationValue.Nanos);
                break;
            case ValueCase.BytesValue:
                WriteBytes(field, key, value.BytesValue.Span);
                break;
            case ValueCase.StringMapValue:
                WriteStringMap(field, key, value.StringMapValue);
                break;
            default:
                break;
        }
    }

    // The same entry, from a record's slot.
    private void WriteSlot(int field, int key, in AttributeRecord.Slot slot)
    {
        switch (slot.Kind)
        {
            case ValueCase.StringValue:
                WriteSInt32(field, key, _words!.Index((string)slot.Ref!));
                break;
            case ValueCase.Int64Value:
                WriteInt64(field, key, slot.Number);
                break;
            case ValueCase.DoubleValue:
                WriteFixed64(field, key, (ulong)slot.Number);
                break;
            case ValueCase.BoolValue:
                WriteBool(field, key, slot.Number != 0);
                break;
            case ValueCase.TimestampValue:
            case ValueCase.DurationValue:
                WriteTime(field, key, slot.Number, slot.Nanos);
                break;
            case ValueCase.BytesValue:
                WriteBytes(field, key, ((Google.Protobuf.ByteString)slot.Ref!).Span);
                break;
            case ValueCase.StringMapValue:
                WriteStringMap(field, key, slot.Map);
                break;
            default:
                break;
        }
    }

    private void WriteSInt32(int field, int key, int value)
    {
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 1 + WireWriter.SInt32Size(value)));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Varint);
        w.SInt32(value);
    }

    private void WriteInt64(int field, int key, long value)
    {
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 1 + WireWriter.Int64Size(value)));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Varint);
        w.Int64(value);
    }

    private void WriteFixed64(int field, int key, ulong bits)
    {
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 1 + 8));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Fixed64);
        w.Fixed64(bits);
    }

    private void WriteBool(int field, int key, bool value)
    {
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 2));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Varint);
        w.Varint(value ? 1u : 0u);
    }

    private void WriteBytes(int field, int key, ReadOnlySpan<byte> bytes)
    {
        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 1 + WireWriter.LengthDelimitedSize(bytes.Length)));
        w.Tag(1, Varint);
        w.SInt32(key);
        w.Tag(2, Delimited);
        w.Bytes(bytes);
    }

    // google.protobuf.Timestamp and Duration share a shape: seconds (1, int64), nanos (2, int32), zeros left out.
    private void WriteTime(int field, int key, long seconds, int nanos)
    {
        var keySize = 1 + WireWriter.SInt32Size(key);
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
    private void WriteStringMap(int field, int key, Attributes.Types.StringMap map)
    {
        var words = _words!;
        Span<(int K, int V)> small = stackalloc (int, int)[16];
        var pairs = map.Entries.Count <= small.Length ? small[..map.Entries.Count] : new (int, int)[map.Entries.Count];
        var i = 0;
        foreach (var (k, v) in map.Entries)
        {
            pairs[i++] = (words.Index(k), words.Index(v));
        }

        WriteWordPairs(field, key, pairs);
    }

    private void WriteStringMap(int field, int key, StringPairs map)
    {
        var words = _words!;
        Span<(int K, int V)> small = stackalloc (int, int)[16];
        var pairs = map.Count <= small.Length ? small[..map.Count] : new (int, int)[map.Count];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = (words.Index(map.KeyAt(i)), words.Index(map.ValueAt(i)));
        }

        WriteWordPairs(field, key, pairs);
    }

    private void WriteWordPairs(int field, int key, ReadOnlySpan<(int K, int V)> pairs)
    {
        var inner = 0;
        foreach (var (k, v) in pairs)
        {
            inner += 1 + WireWriter.LengthDelimitedSize(2 + WireWriter.SInt32Size(k) + WireWriter.SInt32Size(v));
        }

        var w = _element;
        w.Tag(field, Delimited);
        w.Varint((uint)(1 + WireWriter.SInt32Size(key) + 1 + WireWriter.LengthDelimitedSize(inner)));
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
