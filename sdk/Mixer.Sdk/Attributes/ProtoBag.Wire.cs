namespace Mixer.Sdk;

/// <content>
/// Decoding straight from the bytes of a <c>CompressedAttributes</c>: the same checks and the same
/// bag as the message form, without building Google.Protobuf's map fields (a dictionary and a
/// linked-list node per entry, which were a third of a Check's allocations).
/// </content>
public sealed partial class ProtoBag
{
    private const int FieldWords = 1;
    private const int FieldStrings = 2;
    private const int FieldInt64s = 3;
    private const int FieldDoubles = 4;
    private const int FieldBools = 5;
    private const int FieldTimestamps = 6;
    private const int FieldDurations = 7;
    private const int FieldBytes = 8;
    private const int FieldStringMaps = 9;

    /// <summary>How an error about bytes that are not a <c>CompressedAttributes</c> message starts.</summary>
    public const string UndecodablePrefix = "attributes could not be decoded: ";

    /// <summary>
    /// Checks every index of the encoded <c>CompressedAttributes</c> in <paramref name="compressedAttributes"/>
    /// and makes a bag over it; the same rules as the message overload.
    /// </summary>
    /// <param name="compressedAttributes">The message's bytes as received.</param>
    /// <param name="globalWordCount">The client's <c>global_word_count</c>.</param>
    /// <param name="defaultWords">Report's <c>default_words</c>: used when the message has no words of its own.</param>
    /// <param name="tracker">Where to record lookups, or null.</param>
    /// <param name="bag">The bag, when the attributes are valid.</param>
    /// <param name="error">What is wrong when they are not: <see cref="InvalidAttributesPrefix"/> for bad words, <see cref="UndecodablePrefix"/> for bad bytes.</param>
    public static bool TryCreate(
        ReadOnlySpan<byte> compressedAttributes,
        uint globalWordCount,
        IReadOnlyList<string>? defaultWords,
        ReferenceTracker? tracker,
        out ProtoBag bag,
        out string? error)
    {
        try
        {
            // Words may come after the maps that use them, so read them first.
            List<string>? words = null;
            var entries = 0;
            var r = new WireReader(compressedAttributes);
            while (r.TryReadTag(out var field, out var wireType))
            {
                if (field == FieldWords && wireType == 2)
                {
                    (words ??= new List<string>(16)).Add(r.ReadString());
                }
                else if (field is >= FieldStrings and <= FieldStringMaps && wireType == 2)
                {
                    r.ReadBytes();
                    entries++;
                }
                else
                {
                    r.Skip(wireType);
                }
            }

            IReadOnlyList<string> resolved = words is null && defaultWords is not null ? defaultWords : words ?? (IReadOnlyList<string>)[];
            bag = new ProtoBag(entries, tracker);
            return bag.Load(compressedAttributes, resolved, globalWordCount, out error);
        }
        catch (WireFormatException e)
        {
            bag = null!;
            error = UndecodablePrefix + e.Message;
            return false;
        }
    }

    /// <summary>Adds every entry of an encoded <c>CompressedAttributes</c> to this bag, checking each as <c>TryCreate</c> does.</summary>
    /// <exception cref="WireFormatException">The bytes are not a message.</exception>
    private bool Load(ReadOnlySpan<byte> compressedAttributes, IReadOnlyList<string> words, uint globalWordCount, out string? error)
    {
        var d = new Decoder(words, globalWordCount);
        var r = new WireReader(compressedAttributes);
        while (r.TryReadTag(out var field, out var wireType))
        {
            if (field is < FieldStrings or > FieldStringMaps || wireType != 2)
            {
                r.Skip(wireType);
                continue;
            }

            var entry = new WireReader(r.ReadBytes());
            if (!AddEntry(field, ref entry, d, out error))
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    /// <summary>An entry's key (field 1) and value (field 2) as the map's type encodes it; other fields skipped.</summary>
    private static void ReadEntry(int map, ref WireReader entry, out int key, out long bits, out ReadOnlySpan<byte> message)
    {
        key = 0;
        bits = 0;
        message = default;
        while (entry.TryReadTag(out var f, out var wt))
        {
            if (f == 1 && wt == 0)
            {
                key = entry.ReadSInt32();
            }
            else if (f == 2 && wt == 0 && map is FieldStrings or FieldInt64s or FieldBools)
            {
                bits = map == FieldStrings ? entry.ReadSInt32() : entry.ReadInt64();
            }
            else if (f == 2 && wt == 1 && map == FieldDoubles)
            {
                bits = BitConverter.DoubleToInt64Bits(entry.ReadDouble());
            }
            else if (f == 2 && wt == 2 && map is FieldTimestamps or FieldDurations or FieldBytes or FieldStringMaps)
            {
                message = entry.ReadBytes();
            }
            else
            {
                entry.Skip(wt);
            }
        }
    }

    /// <summary>One map entry (key 1, value 2; either may be absent and then is its default).</summary>
    private bool AddEntry(int map, ref WireReader entry, in Decoder d, out string? error)
    {
        ReadEntry(map, ref entry, out var key, out var bits, out var message);
        var mapName = map switch
        {
            FieldStrings => "strings",
            FieldInt64s => "int64s",
            FieldDoubles => "doubles",
            FieldBools => "bools",
            FieldTimestamps => "timestamps",
            FieldDurations => "durations",
            FieldBytes => "bytes",
            _ => "string_maps",
        };
        if (!d.Name(key, mapName, out var name, out error))
        {
            // A word beyond our dictionary that the client knows: not seen, as in Istio.
            return error is null;
        }

        switch (map)
        {
            case FieldStrings:
                return d.Value((int)bits, WordRole.ValueOf, name, out var value, out error) && Add(name, key, SlotString, 0, value, out error);
            case FieldInt64s:
                return Add(name, key, SlotInt64, bits, null, out error);
            case FieldDoubles:
                return Add(name, key, SlotDouble, bits, null, out error);
            case FieldBools:
                return Add(name, key, SlotBool, bits != 0 ? 1 : 0, null, out error);
            case FieldTimestamps:
            {
                var (seconds, nanos) = SecondsAndNanos(message);
                return CheckTimestamp(name, seconds, nanos, out error)
                    && Add(name, key, SlotTimestamp, seconds, null, out error, nanos);
            }

            case FieldDurations:
            {
                var (seconds, nanos) = SecondsAndNanos(message);
                return CheckDuration(name, seconds, nanos, out var total, out error) && Add(name, key, SlotDuration, total, null, out error);
            }

            case FieldBytes:
                return Add(name, key, SlotBytes, 0, message.ToArray(), out error);
            default:
                return ReadStringMap(message, d, name, out var resolved, out error) && Add(name, key, SlotStringMap, 0, resolved, out error);
        }
    }

    /// <summary>google.protobuf.Timestamp and Duration: seconds (1, int64) and nanos (2, int32).</summary>
    private static (long Seconds, int Nanos) SecondsAndNanos(ReadOnlySpan<byte> message)
    {
        long seconds = 0;
        var nanos = 0;
        var r = new WireReader(message);
        while (r.TryReadTag(out var f, out var wt))
        {
            if (f == 1 && wt == 0)
            {
                seconds = r.ReadInt64();
            }
            else if (f == 2 && wt == 0)
            {
                nanos = (int)r.ReadInt64();
            }
            else
            {
                r.Skip(wt);
            }
        }

        return (seconds, nanos);
    }

    /// <summary>istio.mixer.v1.StringMap: entries (1) of sint32 key (1) and sint32 value (2); a repeated key keeps its last value.</summary>
    private static bool ReadStringMap(ReadOnlySpan<byte> message, in Decoder d, string name, out ResolvedMap resolved, out string? error)
    {
        var n = 0;
        var count = new WireReader(message);
        while (count.TryReadTag(out var f, out var wt))
        {
            if (f == 1 && wt == 2)
            {
                n++;
            }

            count.Skip(wt);
        }

        var keys = n == 0 ? [] : new string[n];
        var values = n == 0 ? [] : new string[n];
        var j = 0;
        var r = new WireReader(message);
        while (r.TryReadTag(out var f, out var wt))
        {
            if (f != 1 || wt != 2)
            {
                r.Skip(wt);
                continue;
            }

            WireReader.ReadWordPair(r.ReadBytes(), out var k, out var v);

            if (!d.Value(k, WordRole.KeyOf, name, out var key, out error) || !d.Value(v, WordRole.MapValueOf, name, out var value, out error))
            {
                resolved = null!;
                return false;
            }

            var at = Array.IndexOf(keys, key, 0, j);
            if (at >= 0)
            {
                values[at] = value;
                continue;
            }

            keys[j] = key;
            values[j] = value;
            j++;
        }

        if (j < n)
        {
            Array.Resize(ref keys, j);
            Array.Resize(ref values, j);
        }

        resolved = new ResolvedMap(keys, values);
        error = null;
        return true;
    }
}
