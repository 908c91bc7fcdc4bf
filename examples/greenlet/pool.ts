// gevent tutorial, "Groups and Pools": a Pool of 2 runs at most two greenlets at once.
import { Pool } from 'tulip/greenlet';

const pool = new Pool(2);

function helloFrom(_n: number): void {
  console.log(`Size of pool ${pool.length}`);
}

await pool.map(helloFrom, [0, 1, 2]);
