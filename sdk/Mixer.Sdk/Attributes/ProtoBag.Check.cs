using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <content>
/// Checking a report's attribute set without decoding it: every rule that <see cref="TryLoad"/>
/// applies, read straight from the bytes, with nothing built (no strings, no maps, no slots). Used
/// when no rule of the config reads Report sets: they must still all be valid before any is
/// accepted, but nothing else needs their values.
/// </content>
public sealed partial class ProtoBag
{
    /// <summary>
    /// True when <see cref="TryLoad"/> would load the set with <paramref name="defaultWords"/>
    /// without error. False means "not shown here": load the set to know, and for the error
    /// (a set with its own <c>words</c>, bytes that are not a message, or an invalid set).
    /// </summary>
    /// <param name="set">The set's bytes.</param>
    /// <param name="defaultWords">The report's <c>default_words</c> (a word is decoded only when it names an attribute).</param>
    /// <param name="globalWordCount">The client's <c>global_word_count</c>.</param>
    /// <param name="seen">Per global word, the stamp of the last set that named an attribute with it (at least <see cref="GlobalDictionary.Count"/> long).</param>
    /// <param name="stamp">This set's stamp: different from every earlier set's checked with <paramref name="seen"/>.</param>
    /// <param name="names">Scratch: the set's attribute names that are not global words.</param>
    internal static bool IsValidSet(ReadOnlySpan<byte> set, WordList defaultWords, uint globalWordCount, int[] seen, int stamp, List<string> names)
    {
        names.Clear();
        try
        {
            var r = new WireReader(set);
            while (r.TryReadTag(out var field, out var wireType))
            {
                if (field == FieldWords && wireType == 2)
                {
                    // Its own words replace the default ones for the whole set: leave it to the loader.
                    return false;
                }

                if (field is < FieldStrings or > FieldStringMaps || wireType != 2)
                {
                    r.Skip(wireType);
                    continue;
                }

                var entry = new WireReader(r.ReadBytes());
                if (!IsValidEntry(field, ref entry, defaultWords, globalWordCount, seen, stamp, names))
                {
                    return false;
                }
            }

            return true;
        }
        catch (WireFormatException)
        {
            return false;
        }
    }

    /// <summary>One map entry, with the checks of <see cref="AddEntry"/>.</summary>
    private static bool IsValidEntry(int map, ref WireReader entry, WordList words, uint globalWordCount, int[] seen, int stamp, List<string> names)
    {
        ReadEntry(map, ref entry, out var key, out var bits, out var message);

        // The name, as Decoder.Name resolves it and Add compares it.
        int global;
        if (key >= 0)
        {
            if (key >= GlobalDictionary.Count)
            {
                // A word the client knows and we do not: the attribute is not seen, its value not read.
                return key < globalWordCount;
            }

            global = key;
        }
        else
        {
            var w = -1L - key;
            if (w >= words.Count)
            {
                return false;
            }

            var name = words[(int)w];
            global = GlobalDictionary.IndexOf(name);
            if (global < 0)
            {
                foreach (var other in names)
                {
                    if (string.Equals(other, name, StringComparison.Ordinal))
                    {
                        return false;
                    }
                }

                names.Add(name);
            }
        }

        if (global >= 0)
        {
            if (seen[global] == stamp)
            {
                return false;
            }

            seen[global] = stamp;
        }

        switch (map)
        {
            case FieldStrings:
                return IsWord((int)bits, words.Count);
            case FieldTimestamps:
            {
                var (seconds, nanos) = SecondsAndNanos(message);
                return CheckTimestamp(string.Empty, seconds, nanos, out _);
            }

            case FieldDurations:
            {
                var (seconds, nanos) = SecondsAndNanos(message);
                return CheckDuration(string.Empty, seconds, nanos, out _, out _);
            }

            case FieldStringMaps:
                return IsValidStringMap(message, words.Count);
            default:
                // int64s, doubles, bools, bytes: any value is one.
                return true;
        }
    }

    /// <summary>Every key and value of an istio.mixer.v1.StringMap names a word (as <see cref="ReadStringMap"/> requires).</summary>
    private static bool IsValidStringMap(ReadOnlySpan<byte> message, int wordCount)
    {
        // Entries as clients write them (0x0a, a one-byte length, then key 0x08 and value 0x10 of
        // one or two bytes each, nothing else) are read here; from the first that is not, the
        // general reader takes the rest, so anything protobuf allows is still judged the same.
        var i = 0;
        while (i < message.Length)
        {
            if (message[i] == 0x0a && i + 1 < message.Length && message[i + 1] < 0x80
                && i + 2 + message[i + 1] <= message.Length
                && TryKeyValue(message.Slice(i + 2, message[i + 1]), out var k, out var v))
            {
                if (!IsWord(k, wordCount) || !IsWord(v, wordCount))
                {
                    return false;
                }

                i += 2 + message[i + 1];
                continue;
            }

            return IsValidStringMapEntries(message[i..], wordCount);
        }

        return true;
    }

    /// <summary>Exactly <c>0x08 key 0x10 value</c>, each a zigzag varint of one or two bytes; false for any other shape.</summary>
    private static bool TryKeyValue(ReadOnlySpan<byte> entry, out int key, out int value)
    {
        key = 0;
        value = 0;
        var at = 0;
        return entry.Length >= 4 && entry[0] == 0x08 && TryShortSInt(entry, ref at, out key)
            && at < entry.Length && entry[at] == 0x10 && TryShortSInt(entry, ref at, out value) && at == entry.Length;

        // at: the field's tag; afterwards, just past its value.
        static bool TryShortSInt(ReadOnlySpan<byte> e, ref int at, out int v)
        {
            v = 0;
            var p = at + 1;
            if (p >= e.Length)
            {
                return false;
            }

            uint u = e[p];
            if (u >= 0x80)
            {
                if (p + 1 >= e.Length || e[p + 1] >= 0x80)
                {
                    return false;
                }

                u = (u & 0x7F) | ((uint)e[p + 1] << 7);
                p++;
            }

            v = (int)(u >> 1) ^ -(int)(u & 1);
            at = p + 1;
            return true;
        }
    }

    /// <summary>The general form of <see cref="IsValidStringMap"/>: any field order, sizes and unknown fields.</summary>
    private static bool IsValidStringMapEntries(ReadOnlySpan<byte> message, int wordCount)
    {
        var r = new WireReader(message);
        while (r.TryReadTag(out var f, out var wt))
        {
            if (f != 1 || wt != 2)
            {
                r.Skip(wt);
                continue;
            }

            WireReader.ReadWordPair(r.ReadBytes(), out var k, out var v);

            if (!IsWord(k, wordCount) || !IsWord(v, wordCount))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a value's index names a word (Decoder.Value): a global word of ours, or a message word.</summary>
    private static bool IsWord(int index, int wordCount) =>
        index >= 0 ? index < GlobalDictionary.Count : -1L - index < wordCount;
}
